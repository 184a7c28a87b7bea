"""The DPAE test phases of a dossier (the seed's étapes 4, 5, 6): etape_4 (encryption test) →
etape_5 (server test) → etape_6 (definitive key) → production. Each phase is one sending and one
AR; a phase is validated only by an AR whose lot code is `00`. Before production, files carry
C_VERSION `TST` and are encrypted to the test key; from production on, to the definitive key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gedflow.db.reading import rows
from gedflow.errors import GedflowError

if TYPE_CHECKING:
    from sqlalchemy import Connection

PHASES = ("etape_4", "etape_5", "etape_6", "production")
TODO = {
    "etape_4": "test de chiffrement : construisez un lot réel (C_VERSION TST), chiffré avec la "
               "clé de test, envoyez-le et déposez l'AR dans AR/",
    "etape_5": "test du serveur : envoyez un nouveau lot de test et déposez son AR dans AR/",
    "etape_6": "clé définitive : importez-la (gedflow keys import FICHIER --dossier D "
               "--definitive), envoyez un lot de test et déposez son AR",
    "production": "en production : les déclarations partent en C_VERSION 120, chiffrées avec "
                  "la clé définitive",
}


@dataclass(frozen=True)
class Phase:
    dossier: str
    phase: str
    cle_test: str
    cle_definitive: str

    @property
    def key(self) -> str:
        """The recipient key of this phase."""
        return self.cle_definitive if self.phase == "production" else self.cle_test

    @property
    def todo(self) -> str:
        return TODO[self.phase]


def phase_of(conn: Any, code: str) -> Phase:
    """The dossier's phase and keys (a driver connection of `gedflow.db.reading` or a flow's
    SQLAlchemy connection); raises `GedflowError` for an unknown dossier."""
    found = rows(conn, "SELECT phase, cle_test, cle_definitive FROM dossier WHERE code = :code",
                 code=code)
    if not found:
        raise GedflowError(f"dossier inconnu : {code}")
    return Phase(code, *found[0])


def advance(conn: Connection, code: str, lot_code: str) -> str:
    """Validate the current test phase with an AR's lot code; returns what happened."""
    current = phase_of(conn, code)
    if current.phase == "production":
        return ""
    if lot_code != "00":
        return (f"{code} : {current.phase} non validée (code retour lot « {lot_code} ») ; "
                "corrigez et renvoyez un lot de test")
    following = PHASES[PHASES.index(current.phase) + 1]
    if following == "production" and not current.cle_definitive:
        return (f"{code} : etape_6 validée, mais la clé définitive n'est pas importée : "
                f"{TODO['etape_6']}")
    from gedflow.db.tables import dossier

    conn.execute(dossier.update().where(dossier.c.code == code).values(phase=following))
    return f"{code} : {current.phase} validée, passage à {following}"


def assign_key(conn: Connection, dossier_code: str, fingerprint: str, definitive: bool) -> None:
    """The dossier's test (or définitive) key is this one (the dossier must exist)."""
    from gedflow.db.tables import dossier

    phase_of(conn, dossier_code)
    column = "cle_definitive" if definitive else "cle_test"
    conn.execute(dossier.update().where(dossier.c.code == dossier_code)
                 .values(**{column: fingerprint}))


def key_uses(conn: Any) -> list[tuple[str, str, str]]:
    """(dossier, test key, définitive key) of every dossier."""
    return rows(conn, "SELECT code, cle_test, cle_definitive FROM dossier ORDER BY code")
