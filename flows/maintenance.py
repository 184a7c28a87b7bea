"""The daily checks served on schedules: DPAE follow-up and rate expiry.

Each publishes table artifacts (no NIR) and a markdown summary under stable keys, so the Prefect
UI shows their history, and returns its counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from gedflow.crm.taux import EXPIRED, expiring
from gedflow.db.engine import migrate
from gedflow.dpae.suivi import dsn_without_dpae, overdue, undeclared
from gedflow.settings import PARIS, load_settings


def _day(jour: str | None) -> date:
    return date.fromisoformat(jour) if jour else datetime.now(PARIS).date()


@flow(name="suivi-dpae", flow_run_name="suivi dpae")
def suivi_dpae(root: str, jour: str | None = None) -> dict[str, int]:
    """Declarations without AR after 5 working days; hires within 8 days not yet declared;
    hires a DSN declared without DPAE."""
    today = _day(jour)
    engine = migrate(load_settings(root).registry_url)
    with engine.connect() as conn:
        late, pending = overdue(conn, today), undeclared(conn, today)
    missing = dsn_without_dpae(engine)
    create_table_artifact(key="suivi-dpae-sans-ar", table=late,
                          description=f"DPAE sans AR après 5 jours ouvrés au {today}")
    create_table_artifact(key="suivi-dpae-a-declarer", table=pending,
                          description=f"Embauches non déclarées au {today}")
    create_table_artifact(key="suivi-dpae-dsn-sans-dpae", table=missing,
                          description=f"Embauches déclarées en DSN sans DPAE au {today}")
    late_hires = sum(row["en_retard"] for row in pending)
    counts = {"sans_ar": len(late), "a_declarer": len(pending) - late_hires,
              "en_retard": late_hires, "dsn_sans_dpae": len(missing)}
    create_markdown_artifact(key="suivi-dpae", markdown="\n".join([
        f"# Suivi DPAE au {today}", "",
        f"- déclarations sans AR après 5 jours ouvrés : {counts['sans_ar']}",
        f"- embauches à déclarer dans les 8 jours : {counts['a_declarer']}",
        f"- embauches passées sans DPAE : {counts['en_retard']}",
        f"- embauches déclarées en DSN sans DPAE : {counts['dsn_sans_dpae']}",
    ]))
    return counts


@flow(name="expiration-taux", flow_run_name="expiration taux")
def expiration_taux(root: str, jour: str | None = None) -> dict[str, int]:
    """Rates past their valid-until date, or within 15 days of it, for every SIRET."""
    today = _day(jour)
    settings = load_settings(root)
    engine = migrate(settings.registry_url)
    with engine.connect() as conn:
        found = expiring(conn, today)
    create_table_artifact(key="expiration-taux", table=found,
                          description=f"Taux PAS expirés ou expirant au {today}")
    expired = sum(row["alerte"] == EXPIRED for row in found)
    counts = {"expires": expired, "bientot": len(found) - expired}
    per_siret = Counter(row["siret"] for row in found)
    create_markdown_artifact(key="expiration-taux-resume", markdown="\n".join([
        f"# Taux PAS au {today}", "",
        f"- expirés (grille par défaut) : {counts['expires']}",
        f"- expirent dans les 15 jours : {counts['bientot']}", "",
        *[f"- {siret} : {n}" for siret, n in sorted(per_siret.items())],
    ]))
    return counts
