"""The rate each salarié of a SIRET must have on a date, for the payroll (DSN S21.G00.50.006,
.007 and .008), with warnings on rates expired or about to expire.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from gedflow.crm.integrate import load_registry
from gedflow.db.bulk import chunked, read_frame
from gedflow.db.tables import employeur, taux

SOON = timedelta(days=15)


def rates_on(conn: Connection, siret: str, on: date, cache: Path) -> pd.DataFrame:
    """Per salarié: matricule, nom, prenoms, taux, type, identifiant (S21.G00.50.008),
    valide_jusqu_au, alerte."""
    return _rates(conn, load_registry(conn, [siret], on, cache), on).drop(columns="siret")


def _validity(conn: Connection, ids: list[int]) -> pd.DataFrame:
    """Type, CRM identifier and validity of these rates (renewed by each CRM, so read here)."""
    columns = ["taux_id", "type_registre", "identifiant_registre", "valide_jusqu_au_registre"]
    parts = [read_frame(conn, select(taux.c.id, taux.c.type_taux, taux.c.identifiant_crm,
                                     taux.c.valide_jusqu_au).where(taux.c.id.in_(chunk)), columns)
             for chunk in chunked(ids)]
    return pd.concat(parts, ignore_index=True).astype({"taux_id": "Int64"})


def _rates(conn: Connection, registry: pd.DataFrame, on: date) -> pd.DataFrame:
    """`rates_on`'s columns, after the siret, for registry rows (`load_registry`)."""
    ids = registry["taux_id"].dropna().astype("int64").unique().tolist()
    frame = registry.merge(_validity(conn, ids), on="taux_id", how="left").sort_values(
        ["siret", "matricule"], kind="stable")
    until = pd.to_datetime(frame["valide_jusqu_au_registre"])
    rate = frame["taux_registre"].fillna("")
    kind = frame["type_registre"].fillna("")
    alert = np.select(
        [
            (rate == "") & (kind == ""),
            (kind == "01") & until.notna() & (until < pd.Timestamp(on)),
            (kind == "01") & until.notna() & (until <= pd.Timestamp(on + SOON)),
            rate == "",
        ],
        ["aucun taux : grille par défaut", "taux expiré : grille par défaut", "expire bientôt",
         "barème (pas de taux DGFiP)"],
        "",
    )
    return pd.DataFrame({
        "siret": frame["siret"],
        "matricule": frame["matricule"],
        "nom": frame["nom"],
        "prenoms": frame["prenoms"],
        "taux": rate,
        "type": kind,
        "identifiant": frame["identifiant_registre"].fillna("").where(kind == "01", ""),
        "valide_jusqu_au": until.dt.strftime("%Y-%m-%d").fillna(""),
        "alerte": alert,
    }).reset_index(drop=True)


# Alerts of `rates_on` that the daily expiry check reports.
EXPIRY_ALERTS = ("taux expiré : grille par défaut", "expire bientôt")


def expiring(conn: Connection, on: date, cache: Path) -> pd.DataFrame:
    """Rates expired or about to expire on `on`, every SIRET: siret then `rates_on` columns."""
    sirets = list(conn.execute(select(employeur.c.siret).distinct()).scalars())
    every = _rates(conn, load_registry(conn, sirets, on, cache), on)
    return every[every["alerte"].isin(EXPIRY_ALERTS)].reset_index(drop=True)
