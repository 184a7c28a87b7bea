"""DPAE follow-up: declarations still without an AR, hires not declared in time.

The daily `suivi-dpae` run and `gedflow dpae suivi` use it. A DPAE is due before the hire, at
the earliest 8 days ahead (R1221-5); its AR comes within 5 working days (R1221-7).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from gedflow.registry.bulk import chunked
from gedflow.registry.tables import contrat, dpae_batch, employeur, salarie

# Statuts of a hire not yet sent to the URSSAF.
NOT_SENT = ("a_declarer", "a_corriger", "pret_a_envoyer")
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
        .join(salarie, salarie.c.id == contrat.c.salarie_id)
        .join(employeur, employeur.c.id == salarie.c.employeur_id)
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
