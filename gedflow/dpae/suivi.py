"""DPAE follow-up: declarations still without an AR, hires not declared in time, hires a DSN
declared without DPAE.

The daily `suivi-dpae` run, `gedflow dpae suivi` and `gedflow status` use it (the last two
through the driver, `gedflow.db.reading`). A DPAE is due before the hire, at the earliest 8
days ahead (R1221-5); its AR comes within 5 working days (R1221-7).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from gedflow.db.reading import day, moment, rows
from schemas.dsn import STAGE

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Statuts of a hire not yet sent to the URSSAF; of a contrat only a DSN gave.
NOT_SENT = ("a_declarer", "a_corriger", "pret_a_envoyer")
DSN_ONLY = "dsn"
WINDOW_DAYS = 8
LATE = "embauche passée sans DPAE : déclarez sans attendre"
SOON = "embauche proche : à déclarer avant la date d'embauche"
DSN_WITHOUT_DPAE = "embauche déclarée en DSN sans DPAE : déclarez-la sans attendre"


def count_working_days(start: date, end: date) -> int:
    """Monday-to-Friday days from `start` (counted) to `end` (not), as `numpy.busday_count`
    (written out: numpy's import would double `gedflow dpae suivi`'s start-up)."""
    if end < start:  # numpy counts backwards from `start` (counted) to `end` (not)
        one = timedelta(days=1)
        return -count_working_days(end + one, start + one)
    weeks, rest = divmod((end - start).days, 7)
    return weeks * 5 + sum((start.weekday() + i) % 7 < 5 for i in range(rest))


def overdue(conn: Any, today: date, working_days: int = 5) -> list[dict]:
    """Declarations sent with no AR after `working_days` working days (R1221-7: the AR comes
    within 5 working days)."""
    batches = rows(conn, "SELECT id, envoye_at, contrats FROM dpae_batch WHERE envoi = 'envoye'")
    awaiting = {i for (i,) in rows(conn, "SELECT id FROM contrat WHERE statut = 'envoye'")}
    waiting = []
    for batch_id, sent_at, contrats in batches:
        sent = moment(sent_at).date()
        elapsed = count_working_days(sent, today)
        if elapsed >= working_days:
            waiting += [{"lot": batch_id, "contrat": i, "envoye_le": sent.isoformat(),
                         "jours_ouvres": elapsed} for i in json.loads(contrats) if i in awaiting]
    return waiting


UNDECLARED = f"""
SELECT e.siret, s.matricule, c.id, c.date_embauche, c.statut
FROM contrat c
JOIN salarie s ON s.id = c.salarie_id
JOIN employeur e ON e.id = s.employeur_id
WHERE c.statut IN ({", ".join(f"'{statut}'" for statut in NOT_SENT)})
  AND c.date_embauche <= :until
ORDER BY c.date_embauche, e.siret, s.matricule"""


def undeclared(conn: Any, today: date, window_days: int = WINDOW_DAYS) -> list[dict]:
    """Hires not yet sent whose date is within `window_days` (to declare now) or past (late):
    siret, matricule, contrat, date_embauche, statut, en_retard, alerte — no NIR."""
    found = rows(conn, UNDECLARED, until=(today + timedelta(days=window_days)).isoformat())
    hires = [(siret, matricule, contrat_id, day(hired), statut)
             for siret, matricule, contrat_id, hired, statut in found]
    return [{"siret": siret, "matricule": matricule, "contrat": contrat_id,
             "date_embauche": hired.isoformat(), "statut": statut, "en_retard": hired < today,
             "alerte": LATE if hired < today else SOON}
            for siret, matricule, contrat_id, hired, statut in hires]


def dsn_without_dpae(engine: Engine) -> list[dict]:
    """The hires a DSN declared in their own month for which there is still no DPAE (the DSN
    controls' DPAE_MANQUANTE): siret, matricule, contrat, date_embauche — no NIR. A later
    DPAE of the same salarié and day takes it off the list."""
    from sqlalchemy import func, select

    from gedflow.db.tables import (
        contrat,
        dsn_declaration,
        employeur,
        hire_salarie_employeur,
        salarie,
    )

    def month(column):
        return (func.strftime("%Y-%m", column) if engine.dialect.name == "sqlite"
                else func.to_char(column, "YYYY-MM"))

    declared = (select(dsn_declaration.c.id)
                .where(dsn_declaration.c.siret == employeur.c.siret)
                .where(dsn_declaration.c.statut == "integree")
                .where(month(dsn_declaration.c.mois) == month(contrat.c.date_embauche)))
    dpae = contrat.alias("dpae")
    query = (
        select(employeur.c.siret, salarie.c.matricule, contrat.c.id.label("contrat"),
               contrat.c.date_embauche)
        .select_from(hire_salarie_employeur)
        .where(contrat.c.statut == DSN_ONLY).where(contrat.c.nature_dsn != STAGE)
        .where(declared.exists())
        .where(~select(dpae.c.id).where(dpae.c.salarie_id == contrat.c.salarie_id)
               .where(dpae.c.date_embauche == contrat.c.date_embauche)
               .where(dpae.c.statut.notin_((DSN_ONLY, *NOT_SENT))).exists())
        .order_by(contrat.c.date_embauche, employeur.c.siret, salarie.c.matricule))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"siret": siret, "matricule": matricule, "contrat": contrat_id,
             "date_embauche": hired.isoformat(), "alerte": DSN_WITHOUT_DPAE}
            for siret, matricule, contrat_id, hired in rows]
