"""The rolling status board per dossier and month, for the Prefect UI: DSN read / integrated
and what their controls found,
CRM received / integrated / held, DPAE prepared / sent / AR received / errors, files
quarantined. Months are the data's own (DSN and CRM period, hiring date; quarantine: the day the
file came, all dossiers)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Column, Connection, Engine, func, select

from gedflow.db.tables import (
    contrat,
    crm_declaration,
    dossier,
    dsn_declaration,
    employeur,
    hire_salarie_employeur,
    ledger,
)

DSN_COLUMNS = {"integree": "intégrées", "remplacee": "remplacées", "test": "de test",
               "rien": "sans rien à intégrer"}
CRM_COLUMNS = {"integre": "intégrés", "deja_integre": "intégrés", "retenu": "retenus",
               "anomalies": "avec anomalies"}
DPAE_COLUMNS = {"a_declarer": "à déclarer", "a_corriger": "à corriger",
                "pret_a_envoyer": "préparées", "envoye": "envoyées", "incertain": "incertaines",
                "enregistree": "AR : enregistrées", "erreur": "AR : en erreur"}


CONTROL_COLUMNS = (dsn_declaration.c.controle_erreurs, dsn_declaration.c.controle_avertissements,
                   dsn_declaration.c.dpae_manquantes)
CONTROL_LABELS = {"controle_erreurs": "contrôle DSN : erreurs",
                  "controle_avertissements": "contrôle DSN : avertissements",
                  "dpae_manquantes": "embauches sans DPAE"}


@dataclass(frozen=True)
class Board:
    key: str  # etat-<dossier>-<yyyy>-<mm>
    dossier: str
    month: str  # AAAA-MM
    markdown: str


def _month(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).dt.strftime("%Y-%m")


def _by_siret(conn: Connection, when: Column, *summed: Column) -> pd.DataFrame:
    """Declarations (CRM or DSN: `when`'s table) counted per dossier of their SIRET, date and
    statut, with the sums of `summed`."""
    table, n = when.table, func.count().label("n")
    return pd.DataFrame(conn.execute(
        select(dossier.c.code, when, table.c.statut, n, *(func.sum(c) for c in summed))
        .join(employeur, employeur.c.siret == table.c.siret)
        .join(dossier, dossier.c.id == employeur.c.dossier_id)
        .group_by(dossier.c.code, when, table.c.statut)).all(),
        columns=["dossier", when.name, "statut", "n", *(c.name for c in summed)])


def _frames(engine: Engine) -> tuple[pd.DataFrame, ...]:
    """Counts per (dossier, date, statut), counted by the database, not row by row here."""
    n = func.count().label("n")
    with engine.connect() as conn:
        crm = _by_siret(conn, crm_declaration.c.periode)
        hires = pd.DataFrame(conn.execute(
            select(dossier.c.code, contrat.c.date_embauche, contrat.c.statut, n)
            .select_from(hire_salarie_employeur)
            .join(dossier, dossier.c.id == employeur.c.dossier_id)
            .group_by(dossier.c.code, contrat.c.date_embauche, contrat.c.statut)).all(),
            columns=["dossier", "date_embauche", "statut", "n"])
        dsn = _by_siret(conn, dsn_declaration.c.mois, *CONTROL_COLUMNS)
        quarantined = pd.DataFrame(conn.execute(
            select(ledger.c.received_at).where(ledger.c.outcome == "quarantined")).all(),
            columns=["received_at"])
    crm["month"] = _month(crm["periode"])
    hires["month"] = _month(hires["date_embauche"])
    quarantined["month"] = _month(quarantined["received_at"])
    dsn["month"] = _month(dsn["mois"])
    return crm, hires, quarantined, dsn


def _slug(code: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", code.lower()).strip("-") or "dossier"


def _counts(frame: pd.DataFrame, labels: dict[str, str]) -> dict[str, int]:
    named = frame.assign(label=frame["statut"].map(labels)).dropna(subset=["label"])
    counts = {label: 0 for label in dict.fromkeys(labels.values())}
    counts.update({k: int(v) for k, v in named.groupby("label")["n"].sum().items()})
    return counts


def boards(engine: Engine, latest_months: int = 3) -> list[Board]:
    """Each dossier's board for the latest months that have CRM or hires data."""
    crm, hires, quarantined, dsn = _frames(engine)
    months = sorted(set(crm["month"].dropna()) | set(hires["month"].dropna())
                    | set(dsn["month"].dropna()))[-latest_months:]
    dossiers = sorted(set(crm["dossier"]) | set(hires["dossier"]) | set(dsn["dossier"]))
    out = []
    for code in dossiers:
        for month in months:
            c = crm[(crm["dossier"] == code) & (crm["month"] == month)]
            h = hires[(hires["dossier"] == code) & (hires["month"] == month)]
            q = int((quarantined["month"] == month).sum())
            d = dsn[(dsn["dossier"] == code) & (dsn["month"] == month)]
            lines = [f"# {code} — {month}", "", "| | |", "|---|---|",
                     f"| DSN lues | {int(d['n'].sum())} |",
                     *[f"| DSN {k} | {v} |" for k, v in _counts(d, DSN_COLUMNS).items()],
                     *[f"| {label} | {int(d[c].fillna(0).sum())} |"
                       for c, label in CONTROL_LABELS.items()],
                     f"| CRM reçus | {int(c['n'].sum())} |",
                     *[f"| CRM {k} | {v} |" for k, v in _counts(c, CRM_COLUMNS).items()],
                     f"| DPAE (embauches du mois) | {int(h['n'].sum())} |",
                     *[f"| DPAE {k} | {v} |" for k, v in _counts(h, DPAE_COLUMNS).items()],
                     f"| fichiers en quarantaine (tous dossiers) | {q} |"]
            key = f"etat-{_slug(code)}-{month}"
            out.append(Board(key, code, month, "\n".join(lines)))
    return out
