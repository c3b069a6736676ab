"""Realistic random values by field type: Swedish names with å/ä/ö, valid numbers."""

from __future__ import annotations

import datetime as dt
import random

from pipeline.rules import luhn_digit

FIRST = [
    "Åsa",
    "Björn",
    "Märta",
    "Göran",
    "Linnéa",
    "Örjan",
    "Sofia",
    "Håkan",
    "Ingrid",
    "Jöns",
    "Karin",
    "Mohammed",
    "Fatima",
    "Erik",
    "Anna",
    "Lars",
    "Maja",
    "Elin",
    "Östen",
    "Ängla",
    "Sören",
    "Aleksandra",
    "Nils",
    "Hanna",
    "Tove",
]
LAST = [
    "Andersson",
    "Johansson",
    "Öberg",
    "Åkesson",
    "Ström",
    "Bäckström",
    "Löfgren",
    "Sjögren",
    "Nyström",
    "Höglund",
    "Lindqvist",
    "Ekström",
    "Söderberg",
    "Nilsson",
    "Karlsson",
    "Hämäläinen",
    "Al-Sayed",
    "Björklund",
    "Västlund",
    "Ågren",
]
STREETS = [
    "Storgatan",
    "Kyrkvägen",
    "Östra Ringvägen",
    "Ängsvägen",
    "Björkstigen",
    "Hamngatan",
    "Skolgränd",
    "Järnvägsgatan",
    "Södra Långgatan",
    "Prästgårdsvägen",
    "Åkervägen",
]
TOWNS = [
    "Göteborg",
    "Västerås",
    "Örebro",
    "Umeå",
    "Jönköping",
    "Malmö",
    "Linköping",
    "Norrköping",
    "Luleå",
    "Skövde",
    "Östersund",
    "Växjö",
    "Söderhamn",
    "Älmhult",
]
EMPLOYERS = [
    "Exempelby kommun",
    "Region Västra Götaland",
    "Ängens Bageri AB",
    "Skärgårdens Vård och Omsorg",
    "Umeå universitet",
    "Nordisk Bygg & Måleri AB",
]
PRESCHOOLS = [
    "Förskolan Solrosen",
    "Björkbackens förskola",
    "Förskolan Ängsbacken",
    "Äppelgårdens förskola",
    "Förskolan Källan",
    "Myrstackens förskola",
]
NEEDS = [
    "Allergi mot nötter och ägg, behöver specialkost.",
    "Talar arabiska hemma, önskar modersmålsstöd.",
    "Behöver stöd vid övergångar och i större grupper.",
]

_ASCII = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "Å": "A", "Ä": "A", "Ö": "O"})


def ascii_name(s: str) -> str:
    return s.translate(_ASCII).lower().replace(" ", "").replace("-", "")


def personnummer(rng: random.Random, born: tuple[int, int] = (1940, 2004)) -> str:
    d = dt.date(born[0], 1, 1) + dt.timedelta(
        days=rng.randrange((dt.date(born[1], 12, 31) - dt.date(born[0], 1, 1)).days)
    )
    body = f"{d:%y%m%d}{rng.randrange(1000):03d}"
    return f"{d.year:04d}{body[2:6]}-{body[6:]}{luhn_digit(body)}"


def organisationsnummer(rng: random.Random) -> str:
    body = f"{rng.choice(['55', '21', '80', '71'])}{rng.randrange(10**7):07d}"
    return f"{body[:6]}-{body[6:]}{luhn_digit(body)}"


def bankgiro(rng: random.Random) -> str:
    body = f"{rng.randrange(100, 9999)}{rng.randrange(1000):03d}"
    full = body + luhn_digit(body)
    return f"{full[:-4]}-{full[-4:]}"


def postnummer(rng: random.Random) -> str:
    n = rng.randrange(10000, 98500)
    return f"{n // 100:03d} {n % 100:02d}"


def phone(rng: random.Random) -> str:
    a, b, c = rng.randrange(100, 1000), rng.randrange(10, 100), rng.randrange(10, 100)
    return rng.choice(
        [f"070-{a} {b} {c}", f"08-{a} {b} {c}", f"073-{a}{b}{c}", f"+46 70 {a} {b} {c}"]
    )


def date(rng: random.Random, start: dt.date, days: int) -> str:
    return (start + dt.timedelta(days=rng.randrange(days))).isoformat()


def amount(rng: random.Random) -> str:
    n = rng.randrange(8000, 95000)
    return rng.choice([f"{n // 1000} {n % 1000:03d}", f"{n}", f"{n // 1000} {n % 1000:03d},50"])


def person(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "first": first,
        "last": last,
        "pnr": personnummer(rng),
        "street": f"{rng.choice(STREETS)} {rng.randrange(1, 80)}{rng.choice(['', ' B', ''])}",
        "zip": postnummer(rng),
        "town": rng.choice(TOWNS),
        "phone": phone(rng),
        "email": f"{ascii_name(first)}.{ascii_name(last)}@{rng.choice(['exempel.se', 'post.nu'])}",
    }
