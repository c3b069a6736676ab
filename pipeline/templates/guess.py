"""Guessing a field's type and rules from its AcroForm name and tooltip.

Only telling names count (Swedish and English): ``flt_txtPersonNr`` is a personnummer,
``Falt_10`` is text. The admin corrects the rest in the YAML.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pipeline.fieldtypes import FieldType

# (pattern on the folded name + tooltip, type, extra rules); first match wins.
_GUESSES: tuple[tuple[str, FieldType, tuple[Any, ...]], ...] = (
    (r"samordningsn|personn(umme)?r|pers\.?\s*nr|\bpnr\b", "personnummer", ()),
    (r"organisationsn|org\.?\s*nr|orgnr", "organisationsnummer", ()),
    (r"postn(umme)?r|post\s*nr", "postnummer", ()),
    (r"\bzip\b|zip\s*code|postal\s*code", "text", ({"regex": r"\d{5}(-\d{4})?"},)),
    (r"\bssn\b|social\s*security|\bein\b|employer\s*identification|\btin\b", "number", ()),
    (r"bankgiro|\bbg\b", "bankgiro", ()),
    (r"plusgiro|postgiro|\bpg\b", "plusgiro", ()),
    (r"e-?post|e-?mail|mejl", "email", ()),
    (r"telefon|\btel\b|mobil|phone", "phone", ()),
    (r"datum|\bdate\b|\bdob\b|fodelsedag", "date", ()),
    (r"belopp|summa|kronor|\bkr\b|\bsek\b|amount|inkomst|\blon\b|\$", "amount", ()),
    (r"underskrift|namnteckning|signatur|signature", "signature", ()),
)


def fold(text: str) -> str:
    """Lower-case ASCII with word breaks at camelCase and underscores: for matching."""
    spaced = re.sub(r"([a-zåäö])([A-ZÅÄÖ])", r"\1 \2", text)
    ascii_ = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode()
    return re.sub(r"[_\[\]\.\d]+", " ", ascii_.lower())


def guess_type(name: str, tooltip: str) -> tuple[FieldType, tuple[Any, ...]]:
    """(type, rules) for a text widget; ("text", ()) when nothing telling is found."""
    # The name's last part is the most specific; the tooltip says more but also more noise.
    last = name.rsplit(".", 1)[-1]
    for source in (fold(last), fold(tooltip[:120])):
        # The earliest telling word wins: "flt_datumTelefonkontakt" is a date.
        hits = []
        for pattern, ftype, rules in _GUESSES:
            m = re.search(pattern, source)
            if m:
                hits.append((m.start(), ftype, rules))
        if hits:
            _, ftype, rules = min(hits, key=lambda h: h[0])
            return ftype, rules
    return "text", ()


def field_name(raw: str) -> str:
    """A template field name from an AcroForm name: ASCII, letters/digits/_, no indexes."""
    last = raw.rsplit(".", 1)[-1]
    last = re.sub(r"\[\d+\]$", "", last) or last
    ascii_ = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_).strip("_")
    if not name or not name[0].isalpha():
        name = f"f_{name}" if name else "falt"
    return name
