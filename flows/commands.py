"""The commands that change state, run as flows so that the Prefect UI shows who built, sent or
moved what: thin wrappers around the domain (parameters: codes and dates, never a person);
the command line prints what they return."""

from __future__ import annotations

from datetime import date

from prefect import flow

from gedflow.db.engine import migrate
from gedflow.dpae.handler import prepare_dossier
from gedflow.dpae.prepare import Preparation
from gedflow.dpae.send import hold_offline, send_batches
from gedflow.dpae.send_api import send_batches_api
from gedflow.portal import offline
from gedflow.registry.transfer import TransferRequest, TransferSummary, transfer
from gedflow.settings import load_settings


@flow(name="dpae-construction", flow_run_name="dpae construction {dossier_code}")
def dpae_construction(root: str, dossier_code: str, mode: str | None, fmt: str | None,
                      siret: str | None = None, du: str | None = None, au: str | None = None,
                      maintenant: str | None = None) -> Preparation | None:
    """Build the dossier's dpae.txt / dpae.xml (réel: only without erreur)."""
    return prepare_dossier(load_settings(root), dossier_code, mode, fmt, siret,
                           date.fromisoformat(du) if du else None,
                           date.fromisoformat(au) if au else None, maintenant)
@flow(name="dpae-envoi", flow_run_name="dpae envoi {mode}")
def dpae_envoi(root: str, mode: str, canal: str) -> tuple[str, list]:
    """Send the batches ready: ("hors_ligne", held) in mode assistance, ("api", reports) or
    ("email", sendings)."""
    settings = load_settings(root)
    engine = migrate(settings.registry_url)
    if mode == "reel" and offline.status(settings) is not None:
        return "hors_ligne", hold_offline(engine, settings)
    if canal == "api":
        return "api", send_batches_api(engine, settings) if mode == "reel" else []
    return "email", send_batches(engine, settings, mode)


@flow(name="transfert", flow_run_name="transfert {source} vers {destination}")
def transfert(root: str, source: str, destination: str, employeurs: list[str],
              salaries: list[tuple[str, str]], all_: bool, create: bool, move: bool,
              overwrite: bool) -> TransferSummary:
    """Copy (or move) employers and salariés from one dossier to another."""
    settings = load_settings(root)
    return transfer(migrate(settings.registry_url), TransferRequest(
        source=source, destination=destination, employeurs=tuple(employeurs),
        salaries=tuple((s, m) for s, m in salaries), all=all_, create=create, move=move,
        dry_run=False, overwrite=overwrite, user=settings.user))
