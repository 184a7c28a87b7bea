"""What `gedflow registry show` shows: the dossiers with their counts, and a dossier's
salariés with their latest rate and the last rate a DSN applied (NIR as stored: the caller
masks it). SQL run on the driver (`gedflow.db.reading`)."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from gedflow.db.reading import day, rows
from gedflow.errors import GedflowError

DOSSIERS = """
SELECT d.code, d.phase, COUNT(DISTINCT e.id), COUNT(s.id)
FROM dossier d
LEFT OUTER JOIN employeur e ON e.dossier_id = d.id
LEFT OUTER JOIN salarie s ON s.employeur_id = e.id
GROUP BY d.code, d.phase ORDER BY d.code"""

SALARIES = """
SELECT e.siret, e.raison_sociale, s.matricule, s.nom, s.prenoms, s.nir, t.taux_pas,
       t.type_taux, v.taux, v.type_taux, v.date_versement
FROM employeur e
LEFT OUTER JOIN salarie s ON s.employeur_id = e.id
LEFT OUTER JOIN taux t ON t.id = (SELECT MAX(id) FROM taux WHERE salarie_id = s.id)
LEFT OUTER JOIN versement_pas v
  ON v.id = (SELECT MAX(id) FROM versement_pas WHERE salarie_id = s.id)
WHERE e.dossier_id = :dossier ORDER BY e.siret, s.matricule"""


class SalarieRow(NamedTuple):
    siret: str
    raison_sociale: str
    matricule: str | None
    nom: str | None
    prenoms: str | None
    nir: str | None
    taux_pas: str | None
    type_taux: str | None
    applique: str | None  # the rate the last DSN applied, its type and date of versement
    type_dsn: str | None
    date_versement: date | None


def dossiers(conn: Any) -> list[tuple]:
    """(code, phase, employeurs, salariés) per dossier, by code."""
    return rows(conn, DOSSIERS)


def dossier_rows(conn: Any, code: str) -> list[SalarieRow]:
    """The dossier's salariés, by SIRET and matricule; raises `GedflowError` for an unknown
    dossier."""
    found = rows(conn, "SELECT id FROM dossier WHERE code = :code", code=code)
    if not found:
        raise GedflowError(f"dossier inconnu : {code}")
    return [SalarieRow(*row[:-1], day(row[-1]))
            for row in rows(conn, SALARIES, dossier=found[0][0])]
