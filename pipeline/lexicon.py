"""The word list: Tesseract's own for a language, to confirm words and restore lost marks.

Tesseract's language data carries the word list its model was trained with (Swedish:
230,000 words, given names, surnames and places among them: Jönsson, Västerås, Åmål).
It is unpacked from the installed ``<lang>.traineddata`` with Tesseract's own tools
(``combine_tessdata``, ``dawg2wordlist``, in Debian's tesseract-ocr), once per process
and language: about 0.3 s. Nothing is downloaded and nothing is committed.

Two uses: the share of a value's words found in the list is evidence for the
calibration (a known word is rarely misread); and a word the list lacks, whose one
variant with a dot or ring put back or taken away it has, is restored ("Jonsson" is a
name too, so it stays; "Klaämskada" has no such variant and is left to review). A
compound of two listed words counts as known (kläm + skada).

Where the field's box cuts off the bottom of the letters (a fillable PDF's field drawn
too low for its font: the printer clips g, j, p, q and y at the box edge), a clipped g
reads as a, a j as i, a y or p as v. There the variants of those letters are tried as
well ("Götebora" -> Göteborg, "Siöaren" -> Sjögren), and a word the list cannot vouch
for, or whose clipped variant is a word too (via / vig), is doubtful.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import EngineError

# Letters that lose a dot or ring in print and scan, and what they may have been. A mark
# the engine read is ink on the paper: it may be the other mark (a ring read as dots),
# but it is never taken away ("Häm" is not turned into the listed "Ham").
_MARKS = {
    "a": "aåä",
    "å": "åä",
    "ä": "äå",
    "o": "oö",
    "A": "AÅÄ",
    "Å": "ÅÄ",
    "Ä": "ÄÅ",
    "O": "OÖ",
}
# Only the bare letters: a reading may have lost a mark there (doubt), never elsewhere.
_LOST = {k: v for k, v in _MARKS.items() if k in "aoAO"}
# What a letter read in a box that cuts off descenders may have been (see the docstring).
_CLIPPED = {"a": "agq", "å": "åg", "o": "oqp", "v": "vyp", "i": "ij", "q": "qg", "g": "gq"}
CLIPPED_READS = frozenset(_CLIPPED)  # the letters a cut g, j, p, q or y is read as
CLIPPED_MARKS = frozenset(".:")  # what a comma or semicolon with its tail cut is read as
_BOTH = {
    k: "".join(dict.fromkeys(_MARKS.get(k, k) + _CLIPPED.get(k, k))) for k in _MARKS | _CLIPPED
}
_WORD = re.compile(r"[^\W\d_]{3,}")  # letters only, three or more
_MAX_VARIANTS = 64  # words with very many a/o are left alone: too many guesses
_MAX_CLIPPED_VARIANTS = 4096  # a clipped box has more to try; still a few ms a word
_PART = 3  # the shortest part of a compound


@dataclass(frozen=True)
class Check:
    """What the word list says of a text: its (possibly restored) form and the evidence."""

    text: str
    words: int
    known: float  # share of words listed (or restored to a listed or compound word)
    restored: bool
    compound: float = 0.0  # share known only as compounds of listed words
    # Share of words whose reading hangs on a dot or ring: another variant is a word too
    # (Jonsson and Jönsson are both names); the list cannot vouch for those.
    doubtful: float = 0.0
    # Clipped boxes only: share of words with a letter a clipped descender may have
    # changed that the list cannot vouch for (unknown, or a clipped variant is a word too).
    clipped: float = 0.0


class Lexicon:
    """A set of words, looked up as written and in lower case."""

    def __init__(self, words: set[str]):
        self._words = frozenset(words)
        self._lower = frozenset(w.lower() for w in words)

    def __len__(self) -> int:
        return len(self._words)

    def listed(self, word: str) -> bool:
        return word in self._words or word.lower() in self._lower

    def compound(self, word: str) -> bool:
        """Two listed words joined (Swedish makes new words so: kläm + skada, över +
        arm, trädgård + s + gatan), or a listed word or compound in the genitive."""
        low = word.lower()
        if low.endswith("s") and len(low) > _PART + 1 and self.compound(low[:-1]):
            return True  # the genitive of a compound: Björkbacken + s
        for i in range(_PART, len(low) - _PART + 1):
            head, tail = low[:i], low[i:]
            if head in self._lower and (
                tail in self._lower or (tail[0] == "s" and tail[1:] in self._lower)
            ):
                return True
        return low.endswith("s") and low[:-1] in self._lower

    def has(self, word: str) -> bool:
        return self.listed(word) or self.compound(word)

    def check(self, text: str, clipped: bool = False) -> Check:
        """Look up every word of ``text``; put back a lost dot or ring (and, where the box
        cut off descenders, a clipped letter) where exactly one variant of an unknown word
        is known. A listed word beats a compound, as stands and among the variants
        ("Västeras" is väst + eras, but Västerås is listed)."""
        words = list(_WORD.finditer(text))
        # A full stop or colon may be a comma or semicolon that lost its tail: no word
        # list vouches for punctuation.
        cut_marks = clipped and any(c in CLIPPED_MARKS for c in text)
        if not words:
            return Check(text, 0, 0.0, False, clipped=float(cut_marks))
        marks = _BOTH if clipped else _MARKS
        out, last = [], 0
        known = compound = doubtful = unsure = 0
        restored = False
        for m in words:
            word = m.group()
            listed_variant = self._variants(word, self.listed, True, _LOST) != []
            if self.listed(word):
                known += 1
                doubtful += listed_variant
                unsure += clipped and self._clip_doubt(word, self.listed)
                continue
            fixed = self._restore(word, self.listed, marks)
            if fixed is None and self.compound(word):
                compound += 1
                doubtful += listed_variant
                unsure += clipped and self._clip_doubt(word, self.has)
                continue
            if fixed is None:
                fixed = self._restore(word, self.compound, marks)
                compound += fixed is not None
            else:
                known += 1
            if fixed is None:
                unsure += clipped and any(ch in CLIPPED_READS for ch in word)
            else:
                out.append(text[last : m.start()] + fixed)
                last = m.end()
                restored = True
        out.append(text[last:])
        n = len(words)
        unsure = min(n, unsure + cut_marks)
        return Check("".join(out), n, known / n, restored, compound / n, doubtful / n, unsure / n)

    def _clip_doubt(self, word: str, known: Callable[[str], bool]) -> bool:
        """A known word another clipped reading of which is known too (via / vig)."""
        return self._variants(word, known, True, _CLIPPED) != []

    def _restore(
        self, word: str, known: Callable[[str], bool], marks: dict[str, str] = _MARKS
    ) -> str | None:
        found = self._variants(word, known, marks=marks)
        return found[0] if len(found) == 1 else None

    def _variants(
        self,
        word: str,
        known: Callable[[str], bool],
        first_only: bool = False,
        marks: dict[str, str] = _MARKS,
    ) -> list[str]:
        """The other variants of ``word`` (by ``marks``: dots and rings) that are known."""
        slots = [marks.get(ch, ch) for ch in word]
        count = 1
        for s in slots:
            count *= len(s)
        most = _MAX_VARIANTS if marks is _MARKS or marks is _LOST else _MAX_CLIPPED_VARIANTS
        if count == 1 or count > most:
            return []
        found = []
        for v in ("".join(p) for p in itertools.product(*slots)):
            if v != word and known(v):
                found.append(v)
                if first_only:
                    break
        return found


@functools.lru_cache(maxsize=8)
def load(tessdata: Path, lang: str) -> Lexicon:
    """The word list of ``<tessdata>/<lang>.traineddata`` (``swe+eng``: both lists);
    unpacked once per process (a Lexicon never changes)."""
    words: set[str] = set()
    for one in lang.split("+"):
        words |= _unpack(tessdata / f"{one}.traineddata")
    return Lexicon(words)


def _unpack(traineddata: Path) -> set[str]:
    tools = [shutil.which("combine_tessdata"), shutil.which("dawg2wordlist")]
    if None in tools:
        raise EngineError(
            "combine_tessdata and dawg2wordlist are missing: install Debian's tesseract-ocr"
        )
    with tempfile.TemporaryDirectory(prefix="blankett-words-") as tmp:
        base = Path(tmp) / "x"
        dawg, charset = Path(f"{base}.lstm-word-dawg"), Path(f"{base}.lstm-unicharset")
        out = Path(tmp) / "words.txt"
        try:
            subprocess.run(
                [str(tools[0]), "-e", str(traineddata), str(dawg), str(charset)],
                check=True,
                capture_output=True,
                timeout=60,
            )
            subprocess.run(
                [str(tools[1]), str(charset), str(dawg), str(out)],
                check=True,
                capture_output=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            raise EngineError(f"reading the word list of {traineddata} timed out") from None
        except subprocess.CalledProcessError:
            return set()  # a model without a word list: the list has nothing to say
        if not out.is_file():
            return set()
        return set(out.read_text(encoding="utf-8", errors="replace").split())
