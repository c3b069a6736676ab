"""Guessing a field's type and rules from its AcroForm name and tooltip, with the reason.

Only telling words count (Swedish and English): ``flt_txtPersonNr`` is a personnummer,
``Falt_10`` is text. Every guess says why, and says when it is unsure, so that the
importer can print the unsure ones and ``template check`` can warn about them until an
admin has looked. A wrong confident type costs more than plain text: a date read as a
signature is delivered as ``true``; a box for "name, address and telephone" read as a
phone number fails its check on every form.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pipeline.fieldtypes import FieldType

# Dates written as a pattern: "ÅÅÅÅ-MM-DD", "MM/DD/YYYY" (folded: å -> a). Not the date
# part of a personnummer pattern ("ÅÅÅÅMMDD-NNNN").
_DATE_PATTERN = (
    r"\b(aaaa|aa|yyyy|yy)[-/ ]?mm[-/ ]?dd\b(?![-/ ]?(nnnn|xxxx))"
    r"|\bmm[-/ ]?dd[-/ ]?(yyyy|yy)\b|\bdd[-/ ]?mm[-/ ]?(aaaa|yyyy|aa|yy)\b"
)

# (pattern on the folded name or tooltip, type, extra rules, what the word names).
_TYPED: tuple[tuple[str, FieldType, tuple[Any, ...], str], ...] = (
    (r"samordningsn|personn(umme)?r|pers\.?\s*nr|\bpnr\b", "personnummer", (), "personnummer"),
    (r"organisationsn|org\.?\s*nr|orgnr", "organisationsnummer", (), "organisationsnummer"),
    (r"postn(umme)?r|post\s*nr", "postnummer", (), "postnummer"),
    (r"\bzip\b|zip\s*code|postal\s*code", "text", ({"regex": r"\d{5}(-\d{4})?"},), "zip code"),
    (
        r"\bssn\b|social\s*security|\bein\b|employer\s*identification|\btin\b",
        "number",
        (),
        "tax number",
    ),
    (r"bankgiro|\bbg\b", "bankgiro", (), "bankgiro"),
    (r"plusgiro|postgiro|\bpg\b", "plusgiro", (), "plusgiro"),
    (r"e-?post|e-?mail|mejl", "email", (), "email"),
    (r"telefon|\btel\b|mobil|phone", "phone", (), "phone"),
    (r"datum|\bdat\b|\bdate[ds]?\b|\bdob\b|fodelsedag|" + _DATE_PATTERN, "date", (), "date"),
    (r"belopp|summa|kronor|\bkr\b|\bsek\b|amount|inkomst|\blon\b|\$", "amount", (), "amount"),
    (
        r"underskrift|namnteckning|signatur|signature|\bsign(ed|era[dt]?)?\b",
        "signature",
        (),
        "signature",
    ),
)
# Things a box can hold that have no type of their own: they matter only when a label
# lists one of them beside something else ("Postnummer och ort", "City, state, and ZIP").
_THINGS: tuple[tuple[str, str], ...] = (
    (r"namn|name\b|kontaktperson|contact\s*person", "name"),
    (r"adress|address|\bgata\b|street", "address"),
    (r"\bort\b|postort|ortnamn|\bcity\b|\btown\b|\bstate\b", "place"),
    (r"\bland\b|country", "country"),
    (r"\byrke\b|befattning|occupation|\btitle\b", "occupation"),
)
# Between two telling words, one of these makes them items of a list, not one compound
# ("datum för telefonkontakt" is a date; "telefon och e-post" is two things).
_LIST_SEPARATOR = re.compile(r"[,;&+/]|\b(och|and|samt|eller|or|resp|respektive)\b")


@dataclass(frozen=True)
class Guess:
    """A text widget's guessed type, its rules, why, and whether an admin should look."""

    type: FieldType
    rules: tuple[Any, ...]
    reason: str
    uncertain: bool = False

    def note(self) -> dict[str, Any]:
        """The template's ``guess`` entry for this guess."""
        out: dict[str, Any] = {"type": self.type, "reason": self.reason}
        if self.uncertain:
            out["uncertain"] = True
        return out


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    word: str
    concept: str  # a field type, or one of the _THINGS
    ftype: FieldType | None  # None for a thing without a type
    rules: tuple[Any, ...]


def fold(text: str) -> str:
    """Lower-case ASCII with word breaks at camelCase and underscores: for matching."""
    spaced = re.sub(r"([a-zåäö])([A-ZÅÄÖ])", r"\1 \2", text)
    ascii_ = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode()
    return re.sub(r"[_\[\]\.\d]+", " ", ascii_.lower())


def _hits(source: str) -> list[_Hit]:
    typed = [
        _Hit(m.start(), m.end(), m.group(0), concept, ftype, rules)
        for pattern, ftype, rules, concept in _TYPED
        for m in re.finditer(pattern, source)
    ]
    things = [
        _Hit(m.start(), m.end(), m.group(0), concept, None, ())
        for pattern, concept in _THINGS
        for m in re.finditer(pattern, source)
    ]
    # "namnteckning" holds "namn": a typed word hides the things inside it.
    things = [t for t in things if not any(h.start < t.end and t.start < h.end for h in typed)]
    return sorted(typed + things, key=lambda h: (h.start, -h.end))


def _items(source: str, hits: list[_Hit]) -> list[list[_Hit]]:
    """Hits in runs: a list separator between two hits starts a new item."""
    items: list[list[_Hit]] = []
    for h in hits:
        if items and not _LIST_SEPARATOR.search(source[items[-1][-1].end : h.start]):
            items[-1].append(h)
        else:
            items.append([h])
    return items


def _date_over_signature(hits: list[_Hit]) -> tuple[list[_Hit], str]:
    """A date word beats a signature word: "Datum för underskrift", "Date signed"."""
    dates = [h for h in hits if h.concept == "date"]
    signs = [h for h in hits if h.concept == "signature"]
    if not (dates and signs):
        return hits, ""
    why = f'the date word "{dates[0].word}" beats the signature word "{signs[0].word}"'
    return [h for h in hits if h.concept != "signature"], why


# Pairs that name one thing as two words: an e-mail address is an e-mail.
_ONE_THING = ({"email", "address"},)


def _thing_beside_type(source: str, run: list[_Hit]) -> bool:
    """A word for a thing with no type next to a typed word, as two words ("OrtDatum",
    "Namn telefon"): the box holds both ("Växjö 2026-11-02"), not one typed value. Inside
    one word the thing is part of a compound and names nothing of its own."""
    for a, b in itertools.pairwise(run):
        if {a.concept, b.concept} in _ONE_THING:
            continue
        one_typed = (a.ftype is None) != (b.ftype is None) and a.concept != b.concept
        two_words = source[a.end : b.start].strip() == "" and " " in source[a.start : b.end]
        if one_typed and two_words:
            return True
    return False


def _from_source(source: str, where: str) -> Guess | None:
    """The guess one source (the name or the tooltip) makes; None when it tells nothing."""
    hits = _hits(source)
    if not hits:
        return None
    hits, why_date = _date_over_signature(hits)
    items = _items(source, hits)
    # One item per listed thing: its first typed word, else its first thing.
    heads = [next((h for h in item if h.ftype), item[0]) for item in items]
    concepts = list(dict.fromkeys(h.concept for h in heads))
    # Words run together without separators ("namn adress telefon", from a name such as
    # NamnAdressTelefon) still list things when there are three or more of them.
    if len(concepts) < 2 and len(items) == 1:
        run = list(dict.fromkeys(h.concept for h in items[0]))
        if len(run) >= 3 or _thing_beside_type(source, items[0]):
            concepts = run
    if len(concepts) >= 2:
        listed = ", ".join(concepts)
        return Guess("text", (), f"{where} names several things ({listed}), so text", True)
    head = heads[0]
    if head.ftype is None:
        return Guess("text", (), f"{where} names {head.concept} (no type of its own), so text")
    typed_words = list(dict.fromkeys(h.concept for h in items[0] if h.ftype))
    if why_date:
        return Guess(head.ftype, head.rules, f"{where}, {why_date}", True)
    if len(typed_words) > 1:
        # "datumTelefonkontakt": the earliest telling word is usually the head of a
        # compound, but not always.
        return Guess(
            head.ftype,
            head.rules,
            f"{where} has several telling words ({', '.join(typed_words)}); the first, "
            f'"{head.word}", was taken',
            True,
        )
    why = f'{where} says {head.concept} ("{head.word}")'
    if head.concept != head.ftype:
        why += f", so {head.ftype}"
    return Guess(head.ftype, head.rules, why)


def guess_field(name: str, tooltip: str) -> Guess:
    """The guess for a text widget from its name and tooltip; text when nothing tells."""
    # The name's last part is the most specific; the tooltip says more but also more noise.
    last = name.rsplit(".", 1)[-1]
    by_name = _from_source(fold(last), f"name {last}") if last else None
    by_tip = _from_source(fold(tooltip[:120]), "tooltip") if tooltip.strip() else None
    if by_name is None and by_tip is None:
        return Guess("text", (), "no telling word in the name or tooltip")
    if by_name is None or by_tip is None:
        one = by_name or by_tip
        assert one is not None
        return one
    if by_name.type == by_tip.type:
        # Two sources that agree: one sure of it is enough.
        return by_tip if by_name.uncertain and not by_tip.uncertain else by_name
    # They disagree. A box that names several things cannot hold one typed value, and a
    # date beats a signature wherever the words are. Otherwise the name wins, unsure,
    # unless it names only a thing without a type (then the tooltip's type does).
    for g in (by_name, by_tip):
        if g.type == "text" and g.uncertain:
            return g
    if {by_name.type, by_tip.type} == {"date", "signature"}:
        date = by_name if by_name.type == "date" else by_tip
        why = "the name and tooltip say date and signature, and the date wins"
        return Guess("date", date.rules, why, True)
    if by_name.type == "text" and not by_name.rules:
        why = f"{by_tip.reason}, but the name says text"
        return Guess(by_tip.type, by_tip.rules, why, True)
    why = f"{by_name.reason}, but the tooltip says {by_tip.type}"
    return Guess(by_name.type, by_name.rules, why, True)


def field_name(raw: str) -> str:
    """A template field name from an AcroForm name: ASCII, letters/digits/_, no indexes."""
    last = raw.rsplit(".", 1)[-1]
    last = re.sub(r"\[\d+\]$", "", last) or last
    ascii_ = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_).strip("_")
    if not name or not name[0].isalpha():
        name = f"f_{name}" if name else "falt"
    return name


@dataclass(frozen=True)
class CheckboxWidget:
    """One imported checkbox, as the family guess needs it."""

    page: int
    source: str  # the full AcroForm name
    name: str  # the template field's name
    export: str | None = None  # its on-value


@dataclass(frozen=True)
class Family:
    """Checkboxes under one name stem, and whether they make an ``at_least_one`` group."""

    stem: str
    names: tuple[str, ...]
    grouped: bool
    reason: str
    uncertain: bool = False


def _stem(source: str) -> tuple[str, str, int | None]:
    """(parent path, last part without its index, the index) of a full AcroForm name."""
    parent, _, last = source.rpartition(".")
    m = re.fullmatch(r"(.*?)\[(\d+)\]", last)
    return (parent, m.group(1), int(m.group(2))) if m else (parent, last, None)


def checkbox_families(boxes: list[CheckboxWidget]) -> list[Family]:
    """The families of checkboxes under one name stem, each with its reason.

    ``c1_3[0]`` .. ``c1_3[4]`` are one family even when the PDF nests some of them under
    another subform (a form split into two groups flags every right answer). The same
    stem *and* index under two parents (``Del1.Kryss[0]``, ``Del2.Kryss[0]``) is two
    questions that reuse a name, so those stay apart by parent. A family whose boxes
    all mean the same when on (``DependentCTCInd[0..3]``, all ``1``: one box per row of a
    table) is not one to pick from, so it gets no group: most forms leave them all empty.
    """
    by_stem: dict[tuple[int, str], list[CheckboxWidget]] = {}
    for b in boxes:
        by_stem.setdefault((b.page, _stem(b.source)[1]), []).append(b)
    out: list[Family] = []
    for (_, stem), members in by_stem.items():
        sources = list(dict.fromkeys(b.source for b in members))
        indexes = [_stem(s)[2] for s in sources]
        if len(set(indexes)) == len(sources):
            families = [members] if len(members) >= 2 else []
        else:
            split: dict[str, list[CheckboxWidget]] = {}
            for b in members:
                split.setdefault(_stem(b.source)[0], []).append(b)
            families = [f for f in split.values() if len(f) >= 2]
        for fam in families:
            names = tuple(b.name for b in fam)
            exports = {b.export for b in fam}
            if len({b.source for b in fam}) > 1 and len(exports) == 1:
                why = (
                    f'{len(names)} checkboxes share the name stem "{stem}" and the on-value '
                    f"{next(iter(exports))!r}: one per row, not one to pick; no group"
                )
                out.append(Family(stem, names, False, why))
                continue
            why = f'{len(names)} checkboxes share the name stem "{stem}", so at least one is marked'
            spread = len({_stem(b.source)[0] for b in fam}) > 1
            if spread:
                why += " (they sit under different parents in the PDF)"
            out.append(Family(stem, names, True, why, spread))
    return out
