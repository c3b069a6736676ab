"""Form layouts in code: what is printed on each page and where each field sits.

Coordinates are PDF points from the page's top-left, as in templates. A4 portrait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PAGE_W, PAGE_H = 595.28, 841.89
LEFT, RIGHT = 42.0, PAGE_W - 42.0
GAP = 6.0
BOX_H = 30.0


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str
    x: float
    y: float
    w: float
    h: float
    rules: tuple[Any, ...] = ()
    comb: int | None = None
    multiline: bool = False
    # The value is clipped to the box and may sit on its bottom edge, as a PDF viewer
    # prints a tight fillable field: descenders are cut off.
    clip: bool = False
    options: tuple[tuple[str, str, float, float], ...] = ()  # choice: value, label, x, y


@dataclass(frozen=True)
class TextDef:
    x: float
    y: float  # baseline, from the top
    text: str
    size: float = 8.0
    bold: bool = False


@dataclass(frozen=True)
class PageDef:
    fields: tuple[FieldDef, ...]
    texts: tuple[TextDef, ...]
    rules: tuple[tuple[float, float, float, float], ...] = ()  # printed lines x0,y0,x1,y1


@dataclass(frozen=True)
class FormDef:
    id: str
    title: str
    code: str
    version: int
    pages: tuple[PageDef, ...]
    groups: tuple[dict[str, Any], ...] = ()

    def fields(self) -> list[FieldDef]:
        return [f for p in self.pages for f in p.fields]


@dataclass
class PageBuilder:
    fields: list[FieldDef] = field(default_factory=list)
    texts: list[TextDef] = field(default_factory=list)
    rules: list[tuple[float, float, float, float]] = field(default_factory=list)
    y: float = 0.0

    def header(self, org: str, title: str, code: str, page: int, pages: int) -> None:
        self.texts += [
            TextDef(LEFT, 50, org, 15, bold=True),
            TextDef(LEFT, 66, "Samhällsbyggnadsförvaltningen", 8.5),
            TextDef(LEFT, 92, title, 13, bold=True),
            TextDef(RIGHT - 110, 50, f"Blankett {code}", 8.5, bold=True),
            TextDef(RIGHT - 110, 62, f"Sida {page} ({pages})", 8),
        ]
        self.rules.append((LEFT, 100, RIGHT, 100))
        self.y = 112

    def section(self, text: str) -> None:
        self.y += 6
        self.texts.append(TextDef(LEFT, self.y + 9, text, 9.5, bold=True))
        self.y += 14

    def note(self, *lines: str) -> None:
        for line in lines:
            self.texts.append(TextDef(LEFT, self.y + 8, line, 7.5))
            self.y += 10
        self.y += 2

    def row(self, *cells: tuple[Any, ...], h: float = BOX_H, clip: bool = False) -> None:
        """cells: (name, type, label, width share[, rules[, comb]])."""
        total = sum(c[3] for c in cells)
        avail = RIGHT - LEFT - GAP * (len(cells) - 1)
        x = LEFT
        for c in cells:
            name, ftype, label, share = c[:4]
            rules = c[4] if len(c) > 4 else ()
            comb = c[5] if len(c) > 5 else None
            w = avail * share / total
            self.fields.append(
                FieldDef(
                    name,
                    ftype,
                    label,
                    x,
                    self.y,
                    w,
                    h,
                    tuple(rules),
                    comb,
                    multiline=h > 1.6 * BOX_H,
                    clip=clip,
                )
            )
            x += w + GAP
        self.y += h + GAP

    def cells(self, prefix: str, ftype: str, n: int, w: float, h: float) -> None:
        """A row of ``n`` one-character boxes side by side, each a field of its own (as
        real forms print codes and numbers: ``prefix0``, ``prefix1``, ...)."""
        for i in range(n):
            self.fields.append(FieldDef(f"{prefix}{i}", ftype, "", LEFT + i * w, self.y, w, h))
        self.y += h + GAP

    def checks(self, *items: tuple[str, str], size: float = 10.0, per_row: int = 3) -> None:
        col = (RIGHT - LEFT) / per_row
        for i, (name, label) in enumerate(items):
            r, c = divmod(i, per_row)
            x = LEFT + c * col
            y = self.y + r * (size + 9)
            self.fields.append(FieldDef(name, "checkbox", label, x, y, size, size))
        self.y += ((len(items) + per_row - 1) // per_row) * (size + 9) + 2

    def choice(
        self,
        name: str,
        label: str,
        options: list[tuple[str, str]],
        size: float = 10.0,
        rules: tuple[Any, ...] = (),
    ) -> None:
        """A radio group on one line: the label, then one round box per option."""
        self.texts.append(TextDef(LEFT, self.y + size - 1.5, label, 8.5))
        x = LEFT + 150
        opts = []
        for value, text in options:
            opts.append((value, text, x, self.y))
            x += 24 + 5.2 * len(text)
        w = x - (LEFT + 150)
        self.fields.append(
            FieldDef(name, "choice", label, LEFT + 150, self.y, w, size, rules, options=tuple(opts))
        )
        self.y += size + 9

    def page(self) -> PageDef:
        self.texts.append(
            TextDef(
                LEFT,
                PAGE_H - 30,
                "Personuppgifter behandlas enligt dataskyddsförordningen "
                "(GDPR). Läs mer på kommunens webbplats.",
                6.5,
            )
        )
        return PageDef(tuple(self.fields), tuple(self.texts), tuple(self.rules))


ORG = "Exempelby kommun"


def parkering() -> FormDef:
    """One page: parking permit for people with reduced mobility."""
    title = "Ansökan om parkeringstillstånd för rörelsehindrad"
    b = PageBuilder()
    b.header(ORG, title, "SBF 1042", 1, 1)
    b.note(
        "Fyll i blanketten med tydlig text. Skicka den till kommunen tillsammans med",
        "ett läkarintyg. Ofullständiga ansökningar kan inte handläggas.",
    )
    b.section("1. Ansökan gäller")
    b.checks(("galler_forare", "Förare"), ("galler_passagerare", "Passagerare"), per_row=2)
    b.checks(("ny_ansokan", "Ny ansökan"), ("fornyelse", "Förnyelse av tillstånd"), per_row=2)
    b.section("2. Sökande")
    b.row(
        ("fornamn", "text", "Förnamn", 1, ["required"]),
        ("efternamn", "text", "Efternamn", 1, ["required"]),
    )
    b.row(
        ("personnummer", "personnummer", "Personnummer (ÅÅÅÅMMDD-NNNN)", 1, ["required"]),
        ("telefon", "phone", "Telefon dagtid", 1),
    )
    b.row(("utdelningsadress", "text", "Utdelningsadress", 1, ["required"]))
    b.row(
        ("postnummer", "postnummer", "Postnummer", 1, ["required"]),
        ("postort", "text", "Postort", 2, ["required"]),
    )
    b.row(("epost", "email", "E-postadress", 1))
    b.choice(
        "svar_via",
        "Beslutet skickas med",
        [("post", "Brev"), ("epost", "E-post"), ("hamtas", "Hämtas i receptionen")],
        rules=("required",),
    )
    b.section("3. Tidigare tillstånd")
    b.row(
        ("tidigare_nummer", "number", "Tillståndsnummer", 1),
        ("tidigare_giltigt", "date", "Giltigt till och med", 1),
    )
    b.section("4. Underskrift")
    b.note("Jag försäkrar att uppgifterna i ansökan är riktiga.")
    b.row(
        ("datum", "date", "Datum", 1, ["required"]),
        ("namnteckning", "signature", "Namnteckning", 2, ["required"]),
    )
    return FormDef(
        id="parkeringstillstand",
        title=title,
        code="SBF 1042",
        version=1,
        pages=(b.page(),),
        groups=(
            {
                "name": "ansokan_galler",
                "kind": "exactly_one",
                "fields": ["galler_forare", "galler_passagerare"],
            },
            {"name": "ansokan_typ", "kind": "exactly_one", "fields": ["ny_ansokan", "fornyelse"]},
        ),
    )


def forskola() -> FormDef:
    """Two pages: application for a preschool place; comb boxes for the child's number."""
    title = "Ansökan om plats i förskola"
    p1 = PageBuilder()
    p1.header(ORG, title, "BUF 2210", 1, 2)
    p1.note("Ansökan ska vara kommunen tillhanda senast fyra månader före önskat startdatum.")
    p1.section("1. Barnet")
    p1.row(
        ("barn_fornamn", "text", "Barnets förnamn", 1, ["required"]),
        ("barn_efternamn", "text", "Barnets efternamn", 1, ["required"]),
    )
    p1.row(
        (
            "barn_personnummer",
            "personnummer",
            "Barnets personnummer (12 siffror)",
            1,
            ["required"],
            12,
        ),
        ("startdatum", "date", "Önskat startdatum", 1, ["required"]),
    )
    p1.section("2. Vårdnadshavare")
    p1.row(
        ("vh_namn", "text", "För- och efternamn", 2, ["required"]),
        ("vh_personnummer", "personnummer", "Personnummer", 1, ["required"]),
    )
    p1.row(("vh_adress", "text", "Adress", 1, ["required"]))
    p1.row(
        ("vh_postnummer", "postnummer", "Postnummer", 1, ["required"]),
        ("vh_postort", "text", "Postort", 2, ["required"]),
    )
    p1.row(
        ("vh_telefon", "phone", "Mobiltelefon", 1, ["required"]),
        ("vh_epost", "email", "E-postadress", 2),
    )
    p1.section("3. Arbete eller studier")
    p1.row(
        ("arbetsgivare", "text", "Arbetsgivare eller skola", 2),
        ("arbetsgivare_orgnr", "organisationsnummer", "Organisationsnummer", 1),
    )
    p1.row(
        ("inkomst", "amount", "Hushållets inkomst per månad (kr)", 1),
        ("bankgiro", "bankgiro", "Bankgiro för återbetalning", 1),
    )

    p2 = PageBuilder()
    p2.header(ORG, title, "BUF 2210", 2, 2)
    p2.section("4. Omfattning")
    p2.checks(
        ("omfattning_heltid", "Heltid (mer än 30 tim/vecka)"),
        ("omfattning_deltid", "Deltid (15-30 tim/vecka)"),
        ("omfattning_allman", "Allmän förskola (15 tim/vecka)"),
        per_row=1,
    )
    p2.section("5. Önskad förskola")
    p2.row(
        ("forskola_1", "text", "Förstahandsval", 1, ["required"]),
        ("forskola_2", "text", "Andrahandsval", 1),
    )
    p2.section("6. Särskilda behov")
    p2.checks(
        ("behov_kost", "Specialkost"),
        ("behov_sprak", "Modersmål annat än svenska"),
        ("behov_stod", "Behov av särskilt stöd"),
        per_row=3,
    )
    p2.row(("behov_beskrivning", "text", "Beskriv behovet", 1), h=64)
    p2.section("7. Medgivande och underskrift")
    p2.checks(
        ("medgivande", "Jag har tagit del av reglerna för förskola och godkänner dem"), per_row=1
    )
    p2.row(
        ("datum", "date", "Datum", 1, ["required"]),
        ("namnteckning", "signature", "Vårdnadshavarens namnteckning", 2, ["required"]),
    )
    p2.note("Blanketten skickas till: Exempelby kommun, Förskoleenheten, 123 45 Exempelby.")
    return FormDef(
        id="forskoleplats",
        title=title,
        code="BUF 2210",
        version=1,
        pages=(p1.page(), p2.page()),
        groups=(
            {
                "name": "omfattning",
                "kind": "exactly_one",
                "fields": ["omfattning_heltid", "omfattning_deltid", "omfattning_allman"],
            },
            {"name": "medgivande_kravs", "kind": "all_required", "fields": ["medgivande"]},
            {
                "name": "behov_beskrivs",
                "kind": "all_required",
                "fields": ["behov_beskrivning"],
                "when": "behov_stod",
            },
        ),
    )


def felanmalan() -> FormDef:
    """A form with no template: its pages must come out unidentified."""
    title = "Felanmälan gata och park"
    b = PageBuilder()
    b.header("Annanstad kommun", title, "TK 77", 1, 1)
    b.note("Anmäl fel på gator, belysning, lekplatser och parker. Akuta fel: ring 0771-00 00 00.")
    b.section("Var finns felet?")
    b.row(("plats", "text", "Gata, plats eller adress", 1))
    b.row(("beskrivning", "text", "Beskrivning av felet", 1), h=90)
    b.section("Kontaktuppgifter (frivilligt)")
    b.row(("namn", "text", "Namn", 2), ("tel", "phone", "Telefon", 1))
    b.checks(("aterkoppling", "Jag vill ha återkoppling"), per_row=1)
    return FormDef(id="felanmalan", title=title, code="TK 77", version=1, pages=(b.page(),))


def all_forms() -> tuple[FormDef, ...]:
    """The forms that get templates."""
    return (parkering(), forskola())
