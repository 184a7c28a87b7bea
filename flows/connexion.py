"""Flows of the Net-Entreprises access: the connection test and the automatic CRM retrieval.

Both end as `Ignoré` (a completed run that says why) while the offline mode is on, and fail,
visibly in the Prefect UI, when a server or an account refuses: never a silent skip.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, Failed, State

from gedflow.crm.recuperation import recuperer, uncovered
from gedflow.db.engine import migrate
from gedflow.portal import offline
from gedflow.portal.doctor import diagnose
from gedflow.settings import Settings, load_settings

SKIPPED = f"ignoré : {offline.MESSAGE} (gedflow offline off pour reprendre)"


def _skipped(settings: Settings) -> State | None:
    if offline.status(settings) is None:
        return None
    get_run_logger().warning(SKIPPED)
    return Completed(name="Ignoré", message=SKIPPED)


@flow(name="doctor", flow_run_name="doctor")
def doctor(root: str, utilisateur: str | None = None) -> State:
    """Test every Net-Entreprises / URSSAF endpoint (✓/✗ per endpoint, reason in French)."""
    settings = load_settings(root)
    skipped = _skipped(settings)
    if skipped:
        return skipped
    result = diagnose(settings, utilisateur)
    create_table_artifact(key="doctor", table=[
        {"": "✓" if c.ok else "✗", "serveur": c.nom, "adresse": c.url, "detail": c.detail}
        for c in result.checks], description="Test d'accès aux serveurs")
    for warning in result.warnings:
        get_run_logger().warning(warning)
    failed = [f"{c.nom} : {c.detail}" for c in result.checks if not c.ok]
    if failed:
        return Failed(message="; ".join(failed))
    return Completed(message=f"{len(result.checks)} serveurs joignables, identifiants acceptés")


@flow(name="recuperation-crm", flow_run_name="recuperation crm")
def recuperer_crm(root: str) -> State:
    """Download every new CRM nominatif (API DSN, nature 94) into the inbox, for each user."""
    settings = load_settings(root)
    skipped = _skipped(settings)
    if skipped:
        return skipped
    engine = migrate(settings.registry_url)
    results = recuperer(engine, settings)
    orphans = uncovered(engine, settings)
    if orphans:
        get_run_logger().warning("dossiers without credentials (CRMs not retrieved): %s",
                                 ", ".join(orphans))
    rows = [{"utilisateur": r.utilisateur,
             "depuis": f"{r.debut:%Y-%m-%d %H:%M}" if r.debut else "",
             "jusqu_au": f"{r.fin:%Y-%m-%d %H:%M}" if r.fin else "",
             "crm_listes": r.retours, "deja_recuperes": r.deja_vus,
             "nouveaux": len(r.fichiers), "erreur": r.erreur} for r in results]
    create_table_artifact(key="recuperation-crm", table=rows,
                          description="CRM nominatifs récupérés par utilisateur")
    dropped = [f for r in results for f in r.fichiers]
    create_markdown_artifact(key="recuperation-crm-resume", markdown="\n".join([
        "# Récupération des CRM nominatifs", "",
        f"- fichiers déposés dans l'inbox : {len(dropped)}",
        *[f"  - `{f}`" for f in dropped],
        *[f"- ✗ {r.utilisateur} : {r.erreur}" for r in results if r.erreur],
        *([f"- ⚠ dossiers sans identifiants (CRM non récupérés) : {', '.join(orphans)}"]
          if orphans else []),
    ]))
    failed = [f"{r.utilisateur} : {r.erreur}" for r in results if r.erreur]
    if failed:
        return Failed(message="récupération des CRM en échec — " + "; ".join(failed),
                      data=rows)
    return Completed(message=f"{len(dropped)} CRM déposé(s) dans l'inbox", data=rows)
