"""Field kinds shared by every declared format: what a value may look like, as data (no I/O).

A kind names the check and the normalisation applied to a column (`gedflow.checks` implements
them, vectorised). Layouts in this package are lists of fields using these kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"  # free text, trimmed, max_len enforced
    CODE = "code"  # identifier text (dossier code, matricule): trimmed, max_len, no spaces inside
    SIRET = "siret"  # 14 digits, Luhn (La Poste exception)
    NIR = "nir"  # 13 chars (no key) or 15 chars with a valid key; Corsica 2A/2B
    DATE = "date"  # JJ/MM/AAAA
    TAUX = "taux"  # PAS rate in percent: 0 ≤ t ≤ 100, at most 2 decimals, "," or "."
    TYPE_TAUX = "type_taux"  # S21.G00.50.007 codes
    SEXE = "sexe"  # M / F (1 / 2 accepted and normalised)
    DEPT = "dept"  # birth département: 01–95, 2A, 2B, 971–976, 99 (abroad)
    APE = "ape"  # NAF rev. 2: 4 digits + letter
    CODE_POSTAL = "code_postal"  # 5 digits
    TELEPHONE = "telephone"  # digits only once spaces, dots and dashes are removed
    EMAIL = "email"
    HEURE = "heure"  # HH:MM
    NATURE = "nature"  # contract nature: CDI / CDD / CTT
    JOURS = "jours"  # a number of days, at most 3 digits


@dataclass(frozen=True)
class Field:
    """One column of a table format."""

    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    max_len: int | None = None


@dataclass(frozen=True)
class CsvLayout:
    """A `;`-separated table: its file-name prefix, its exact header and its upsert key."""

    name: str
    prefix: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


_PART_WIDTHS = {"d": 2, "m": 2, "Y": 4, "H": 2, "M": 2}


@dataclass(frozen=True)
class Form:
    """How a date or a time is written: a strftime pattern whose parts (%d %m %Y %H %M) all
    have a fixed width, and separators. Readers and writers convert between forms with
    `gedflow.forms.rewrite`, so a conversion and its inverse come from the same declaration."""

    pattern: str

    def parts(self) -> list[tuple[str, int]]:
        """(character, offset) per written character: a part letter, or the separator itself
        with offset -1."""
        out, i = [], 0
        while i < len(self.pattern):
            if self.pattern[i] == "%":
                letter = self.pattern[i + 1]
                out += [(letter, k) for k in range(_PART_WIDTHS[letter])]
                i += 2
            else:
                out.append((self.pattern[i], -1))
                i += 1
        return out

    @property
    def width(self) -> int:
        return len(self.parts())

    @property
    def regex(self) -> str:
        """The shape of a value of this form (digits where the parts are)."""
        return "".join(r"\d" if k >= 0 else re.escape(c) for c, k in self.parts())

    @property
    def template(self) -> str:
        """The separators in place, "0" where the digits go."""
        return "".join("0" if k >= 0 else c for c, k in self.parts())

    def moves(self, target: Form) -> list[int]:
        """For each character of `target`, its offset in a value of this form (-1 where
        `target` writes a separator of its own)."""
        where = {(c, k): i for i, (c, k) in enumerate(self.parts()) if k >= 0}
        return [where[(c, k)] if k >= 0 else -1 for c, k in target.parts()]


JJMMAAAA = Form("%d%m%Y")  # DPAE flat file, DSN
JJ_MM_AAAA = Form("%d/%m/%Y")  # hires and registry CSV, reports for people
AAAA_MM_JJ = Form("%Y-%m-%d")  # the database, CRM XML, CSV reports
HHMM = Form("%H%M")  # DPAE flat file
HH_MM = Form("%H:%M")  # hires CSV, database


# S21.G00.50.007 "type du taux": 01 DGFiP; 13/23/33 barème mensuel; 17/27/37 barème
# mathématique; 99 indu exercice antérieur.
TYPES_TAUX = ("01", "13", "23", "33", "17", "27", "37", "99")
