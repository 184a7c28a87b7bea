"""DPAE follow-up: declarations still without an AR, hires not declared in time, hires a DSN
declared without DPAE.

The daily `suivi-dpae` run and `gedflow dpae suivi` use it. A DPAE is due before the hire, at
the earliest 8 days ahead (R1221-5); its AR comes within 5 working days (R1221-7).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from gedflow.db.bulk import chunked
from gedflow.db.tables import (
    contrat,
    dpae_batch,
    dsn_declaration,
    employeur,
    hire_salarie_employeur,
    salarie,
)
from schemas.dsn import STAGE

# Statuts of a hire not yet sent to the URSSAF; of a contrat only a DSN gave.
NOT_SENT = ("a_declarer", "a_corriger", "pret_a_envoyer")
DSN_ONLY = "dsn"
WINDOW_DAYS = 8


def overdue(engine: Engine, today: date, working_days: int = 5) -> list[dict]:
    """Declarations sent with no AR after `working_days` working days (R1221-7: the AR comes
    within 5 working days)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(dpae_batch.c.id, dpae_batch.c.envoye_at, dpae_batch.c.contrats)
            .where(dpae_batch.c.envoi == "envoye")).all()
        waiting = []
        for batch in rows:
            sent = batch.envoye_at.date()
            elapsed = int(np.busday_count(sent, today))
            if elapsed < working_days:
                continue
            ids = json.loads(batch.contrats)
            still = [i for part in chunked(ids) for i in conn.execute(
                select(contrat.c.id).where(contrat.c.id.in_(part))
                .where(contrat.c.statut == "envoye")).scalars()]
            waiting += [{"lot": batch.id, "contrat": i, "envoye_le": sent.isoformat(),
                         "jours_ouvres": elapsed} for i in still]
    return waiting


def undeclared(engine: Engine, today: date, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Hires not yet sent whose date is within `window_days` (to declare now) or past (late):
    siret, matricule, contrat, date_embauche, statut, en_retard, alerte — no NIR."""
    query = (
        select(employeur.c.siret, salarie.c.matricule, contrat.c.id.label("contrat"),
               contrat.c.date_embauche, contrat.c.statut)
        .select_from(hire_salarie_employeur)
        .where(contrat.c.statut.in_(NOT_SENT))
        .where(contrat.c.date_embauche <= today + timedelta(days=window_days))
        .order_by(contrat.c.date_embauche, employeur.c.siret, salarie.c.matricule)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(),
                             columns=["siret", "matricule", "contrat", "date_embauche", "statut"])
    frame["en_retard"] = pd.to_datetime(frame["date_embauche"]) < pd.Timestamp(today)
    frame["alerte"] = np.where(frame["en_retard"],
                               "embauche passée sans DPAE : déclarez sans attendre",
                               "embauche proche : à déclarer avant la date d'embauche")
    frame["date_embauche"] = pd.to_datetime(frame["date_embauche"]).dt.strftime("%Y-%m-%d")
    return frame


def dsn_without_dpae(engine: Engine) -> pd.DataFrame:
    """The hires a DSN declared in their own month for which there is still no DPAE (the DSN
    controls' DPAE_MANQUANTE): siret, matricule, contrat, date_embauche — no NIR. A later
    DPAE of the same salarié and day takes it off the list."""
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
        frame = pd.DataFrame(conn.execute(query).all(),
                             columns=["siret", "matricule", "contrat", "date_embauche"])
    frame["date_embauche"] = pd.to_datetime(frame["date_embauche"]).dt.strftime("%Y-%m-%d")
    frame["alerte"] = "embauche déclarée en DSN sans DPAE : déclarez-la sans attendre"
    return frame
