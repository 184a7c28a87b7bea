"""The rate each salarié of a SIRET must have on a date, for the payroll (DSN S21.G00.50.006,
.007 and .008), with warnings on rates expired or about to expire.

One SQL query gives the rows and their alert, run on the driver (`gedflow.db.reading`: the
read-only command that shows them starts without SQLAlchemy or pandas). The rate in force is
the CRM's rule: the latest rate recorded whose date d'effet, if any, is not after the date.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from gedflow.db.reading import day, rows

SOON = timedelta(days=15)
COLUMNS = ["siret", "matricule", "nom", "prenoms", "taux", "type", "identifiant",
           "valide_jusqu_au", "alerte"]
ALERTS = {
    "none": "aucun taux : grille par défaut",
    "expired": "taux expiré : grille par défaut",
    "expiring": "expire bientôt",
    "bareme": "barème (pas de taux DGFiP)",
}
EXPIRED, EXPIRING = ALERTS["expired"], ALERTS["expiring"]
# Alerts that the daily expiry check reports.
EXPIRY_ALERTS = (EXPIRED, EXPIRING)

RATES = """
SELECT siret, matricule, nom, prenoms, taux, type, identifiant, valide_jusqu_au, alerte
FROM (
  SELECT e.siret, s.id AS salarie_id, s.matricule, s.nom, s.prenoms, t.valide_jusqu_au,
         COALESCE(t.taux_pas, '') AS taux, COALESCE(t.type_taux, '') AS type,
         CASE WHEN t.type_taux = '01' THEN t.identifiant_crm ELSE '' END AS identifiant,
         CASE
           WHEN COALESCE(t.taux_pas, '') = '' AND COALESCE(t.type_taux, '') = '' THEN :none
           WHEN t.type_taux = '01' AND t.valide_jusqu_au < :on THEN :expired
           WHEN t.type_taux = '01' AND t.valide_jusqu_au <= :soon THEN :expiring
           WHEN COALESCE(t.taux_pas, '') = '' THEN :bareme
           ELSE ''
         END AS alerte
  FROM salarie s
  JOIN employeur e ON e.id = s.employeur_id
  LEFT OUTER JOIN taux t ON t.id = (
    SELECT MAX(r.id) FROM taux r
    WHERE r.salarie_id = s.id AND (r.date_effet IS NULL OR r.date_effet <= :on))
) AS rates
WHERE {where}
ORDER BY siret, matricule, salarie_id"""


def _records(conn: Any, where: str, on: date, **params: object) -> list[dict]:
    found = rows(conn, RATES.format(where=where), on=on.isoformat(),
                 soon=(on + SOON).isoformat(), **ALERTS, **params)
    return [dict(zip(COLUMNS, (*row[:7], day(row[7]).isoformat() if row[7] else "", row[8]),
                     strict=True))
            for row in found]


def rates_on(conn: Any, siret: str, on: date) -> list[dict]:
    """Per salarié of the SIRET (every dossier), by matricule: `COLUMNS` (`identifiant` is
    S21.G00.50.008, given for a DGFiP rate only)."""
    return _records(conn, "siret = :siret", on, siret=siret)


def expiring(conn: Any, on: date) -> list[dict]:
    """Rates expired or about to expire on `on`, every SIRET: `COLUMNS`, by SIRET."""
    return _records(conn, "alerte IN (:expired, :expiring)", on)
