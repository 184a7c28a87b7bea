"""Field kinds shared by every declared format: what a value may look like, as data (no I/O).

A kind names the check and the normalisation applied to a column (`gedflow.checks` implements
them, vectorised). Layouts in this package are lists of fields using these kinds.
"""

from __future__ import annotations

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


# S21.G00.50.007 "type du taux": 01 DGFiP; 13/23/33 barème mensuel; 17/27/37 barème
# mathématique; 99 indu exercice antérieur.
TYPES_TAUX = ("01", "13", "23", "33", "17", "27", "37", "99")
