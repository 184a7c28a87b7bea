"""Recording a reconciled CRM in the registry: new, changed and future rates go into the rate
history; confirmed rates get their validity renewed; every declaration is remembered so the same
CRM (identifiant + SIREN + NIC) never changes anything twice; a declaration whose share of people
without a rate jumps far above the previous one of its SIRET is held.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, and_, select

from gedflow.crm.reconcile import RECORDED, REGISTRY_COLUMNS, valid_until
from gedflow.db.bulk import bulk_insert, bulk_update, db_timestamp, insert_new
from gedflow.db.tables import crm_anomalie, crm_declaration, taux, taux_communique
from gedflow.formats.crm import Crm
from gedflow.registry import snapshot

log = logging.getLogger(__name__)
COMMUNICATED = ("conforme", "modifie", "nouveau", "sans_taux", "futur")  # a taux_communique row


@dataclass(frozen=True)
class Decision:
    """What was done with one declaration (one SIRET) of the CRM."""

    siret: str
    periode: str
    statut: str  # integre | retenu | deja_integre | anomalies
    raison: str
    personnes: int
    sans_taux: int


def rates_in_force(copy: snapshot.Snapshot, sirets: list[str], on: date) -> pd.DataFrame:
    """Salariés of these SIRETs (all dossiers) with their rate in force on `on`: the latest one
    recorded whose date d'effet, if any, is not after `on`."""
    people = copy.identities[copy.identities["siret"].isin(sirets)]
    rates = copy.rates
    in_force = rates[rates["date_effet"].isna() | (rates["date_effet"] <= on.isoformat())]
    latest = in_force.drop_duplicates("salarie_id", keep="last")  # the copy is in id order
    found = latest.set_index("salarie_id").reindex(people["salarie_id"])
    frame = people.assign(taux_id=found["taux_id"].to_numpy(),
                          taux_registre=found["taux_registre"].to_numpy())
    frame["taux_id"] = frame["taux_id"].astype("Int64")
    return frame[REGISTRY_COLUMNS].reset_index(drop=True)


def load_registry(conn: Connection, sirets: list[str], on: date, cache: Path) -> pd.DataFrame:
    """`rates_in_force` from the registry's columnar copy (kept in `cache`)."""
    return rates_in_force(snapshot.current(conn, cache), sirets, on)


def _previous_share(conn: Connection, siret: str) -> float | None:
    row = conn.execute(
        select(crm_declaration.c.personnes, crm_declaration.c.sans_taux)
        .where(and_(crm_declaration.c.siret == siret, crm_declaration.c.kind == "nominatif",
                    crm_declaration.c.statut == "integre"))
        .order_by(crm_declaration.c.periode.desc(), crm_declaration.c.id.desc())
        .limit(1)
    ).first()
    return row.sans_taux / row.personnes if row and row.personnes else None


RAISONS = {
    "financier": "CRM financier : anomalies de paiement enregistrées",
    "taux_sur_taux": "CRM taux sur taux : taux non appliqués signalés par la DGFiP, enregistrés",
}


def identity(crm: Crm, sha256: str) -> str:
    """What makes a CRM the same CRM: its identifiant, else (a CRM financier has none) the
    file's hash."""
    return crm.identifiant[:40] if crm.identifiant else f"sha256:{sha256}"


def _integrated_on(conn: Connection, values: dict):
    return conn.execute(select(crm_declaration.c.created_at).where(and_(
        crm_declaration.c.identite == values["identite"],
        crm_declaration.c.siren == values["siren"], crm_declaration.c.nic == values["nic"],
    ))).scalar()


def _already(crm: Crm, decision: Decision, seen) -> Decision:
    what = f"CRM {crm.identifiant}" if crm.identifiant else "Ce CRM"
    return Decision(decision.siret, decision.periode, "deja_integre",
                    f"{what} déjà intégré le {seen:%d/%m/%Y} : rien de modifié",
                    decision.personnes, decision.sans_taux)


def _decide(conn: Connection, crm: Crm, decl: dict, people: pd.DataFrame,
            threshold: float) -> Decision:
    count = len(people)
    without = int(((people["taux"] == "") & ~people["taux_invalide"]).sum())
    if not decl["siret_ok"]:
        return Decision(decl["siret"], decl["periode"], "invalide",
                        f"SIRET invalide ({decl['siret'][:20]}) : rien de cette déclaration "
                        "n'est rapproché ni intégré", count, without)
    if crm.kind != "nominatif":
        return Decision(decl["siret"], decl["periode"], "anomalies", RAISONS[crm.kind], count,
                        without)
    share, previous = (without / count if count else 0.0), _previous_share(conn, decl["siret"])
    if previous is not None and share - previous >= threshold:
        return Decision(
            decl["siret"], decl["periode"], "retenu",
            f"CRM retenu : {share:.0%} des personnes sans taux contre {previous:.0%} au CRM "
            f"précédent (seuil {threshold:.0%}). Taux précédents conservés ; vérifiez auprès de "
            "la DGFiP avant de l'intégrer (incident de janvier 2021).",
            count, without)
    return Decision(decl["siret"], decl["periode"], "integre", "taux enregistrés", count, without)


def _record_rates(conn: Connection, rows: pd.DataFrame, identifiant: str, available: date,
                  source: str) -> None:
    new = rows[rows["statut"].isin(RECORDED) & rows["salarie_id"].notna()]
    until = valid_until(available).isoformat()
    bulk_insert(conn, taux, pd.DataFrame({
        "salarie_id": new["salarie_id"].astype("int64"),
        "taux_pas": new["taux_crm"],
        "type_taux": "01",
        "identifiant_crm": identifiant,
        "date_disponibilite": available.isoformat(),
        "date_effet": new["date_effet"].where(new["date_effet"] != "", None),
        "valide_jusqu_au": until,
        "source": source,
        "created_at": db_timestamp(datetime.now(UTC)),
    }))
    confirmed = rows[(rows["statut"] == "conforme") & rows["taux_id"].notna()]
    # The new CRM renews the validity of the rate already in force.
    bulk_update(conn, taux, ["identifiant_crm", "date_disponibilite", "valide_jusqu_au", "source"],
                [(identifiant, available.isoformat(), until, source, int(i))
                 for i in confirmed["taux_id"].unique()])


def _record_communicated(conn: Connection, rows: pd.DataFrame, decl_id: int,
                         identifiant: str, available: date) -> None:
    """What the CRM said of each matched salarié: a rate (today's, or a future one from its
    date d'effet) or none."""
    said = rows[rows["statut"].isin(COMMUNICATED) & rows["salarie_id"].notna()]
    bulk_insert(conn, taux_communique, pd.DataFrame({
        "salarie_id": said["salarie_id"].astype("int64"),
        "crm_declaration_id": decl_id,
        "identifiant_crm": identifiant[:40],
        "taux": said["taux_crm"].where(said["taux_crm"] != "", None),
        "date_disponibilite": available.isoformat(),
        "date_effet": said["date_effet"].where(said["statut"] == "futur", None),
        "valide_jusqu_au": valid_until(available).isoformat(),
    }))


def integrate(
    conn: Connection,
    crm: Crm,
    rows: pd.DataFrame,
    *,
    sha256: str,
    source: str,
    available: date,
    threshold: float,
) -> list[Decision]:
    """Record what each declaration of the CRM says; one transaction (the caller's). The
    declaration's row goes first: if its identity is already recorded, nothing else is."""
    decisions = []
    for decl in crm.declarations.to_dict("records"):
        people = crm.salaries[crm.salaries["decl"] == decl["decl"]]
        decision = _decide(conn, crm, decl, people, threshold)
        values = dict(
            identifiant_crm=crm.identifiant[:40], identite=identity(crm, sha256), kind=crm.kind,
            siren=decl["siren"][:9], nic=decl["nic"][:5], siret=decl["siret"][:14],
            periode=date.fromisoformat(decl["periode"]) if decl["periode"] else None,
            sha256=sha256, source=source, personnes=decision.personnes,
            sans_taux=decision.sans_taux, statut=decision.statut, raison=decision.raison,
            date_disponibilite=available, created_at=datetime.now(UTC))
        decl_id = insert_new(conn, crm_declaration, values, ["identite", "siren", "nic"])
        if decl_id is None:
            decisions.append(_already(crm, decision, _integrated_on(conn, values)))
            continue
        decisions.append(decision)
        if decision.statut == "integre":
            mine = rows[rows["siret"] == decl["siret"]]
            _record_rates(conn, mine, crm.identifiant, available, source)
            _record_communicated(conn, mine, decl_id, crm.identifiant, available)
        found = crm.anomalies[crm.anomalies["decl"] == decl["decl"]]
        bulk_insert(conn, crm_anomalie, pd.DataFrame({
            c.name: found[c.name].str.slice(0, c.type.length) if c.type.length else found[c.name]
            for c in crm_anomalie.columns if c.name in found}).assign(
            crm_declaration_id=decl_id))
    for d in decisions:
        log.info("CRM %s SIRET %s: %s", crm.identifiant, d.siret, d.statut)
    return decisions
