"""Thin Prefect tasks around `gedflow.intake`: process one claimed file, publish artifacts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run, task_run

from gedflow.board import boards
from gedflow.db.engine import migrate
from gedflow.handler import Handler
from gedflow.inbox import Outcome
from gedflow.intake import claims_by_id, count_outcomes, process
from gedflow.kinds import INBOX_KINDS, handler_of
from gedflow.settings import load_settings

QUARANTINE_EVENT = "gedflow.fichiers.quarantaine"
# Inbox folder kind → the domain function that processes one of its files.
HANDLERS: dict[str, Handler] = {k.kind: handler_of(k.kind) for k in INBOX_KINDS}


def _chunk_name() -> str:
    ids = task_run.parameters["claim_ids"]
    return f"{task_run.parameters['kind']} #{ids[0]}" + (f" (+{len(ids) - 1})" if ids[1:] else "")


@task(name="traiter-fichiers", task_run_name=_chunk_name, cache_policy=NO_CACHE)
def process_claims(root: str, claim_ids: list[int], kind: str,
                   disponibilite: str = "") -> list[Outcome]:
    """Process claimed files (by ledger id, in order) with the handler of their folder: one
    task for a few small files, so a burst does not flood the server. `disponibilite`
    (AAAA-MM-JJ) is the CRMs' availability date when a run gives it."""
    settings = load_settings(root)
    if disponibilite:
        settings = replace(settings, crm_disponibilite=disponibilite)
    engine = migrate(settings.registry_url)
    found = claims_by_id(settings, engine, claim_ids)
    for gone in sorted(set(claim_ids) - {c.id for c in found}):
        get_run_logger().warning("ledger row %s is no longer waiting: skipped", gone)
    outcomes = [process(settings, engine, c, HANDLERS[kind]) for c in found]
    for o in outcomes:
        get_run_logger().info("ledger row %s (%s): %s", o.claim_id, kind, o.outcome)
    return outcomes


def announce_quarantine(files: list[str]) -> None:
    """One event per run that quarantined files: the `gedflow-quarantaine` automation turns it
    into an alert (flows/alerts.py)."""
    emit_event(event=QUARANTINE_EVENT,
               resource={"prefect.resource.id": f"gedflow.run.{flow_run.id}",
                         "prefect.resource.name": flow_run.name or "gedflow"},
               payload={"nombre": len(files),
                        "fichiers": ", ".join(files[:20]) + (" …" if len(files) > 20 else "")})


def _rel(root: Path, path: Path | None) -> str:
    return path.relative_to(root).as_posix() if path else ""


@task(name="publier-resultats", cache_policy=NO_CACHE)
def publish_outcomes(root: str, kind: str, outcomes: list[Outcome]) -> None:
    """A table artifact (one row per file), a markdown summary with counts, the reports' own
    artifacts, and the rolling status board of each dossier for its latest months."""
    base = Path(root)
    rows = [
        {
            "fichier": o.rel,
            "resultat": o.outcome,
            "destination": _rel(base, o.final_path),
            "rapport": _rel(base, o.report_path),
            "raison": o.reason.splitlines()[0] if o.reason else "",
            **{k: str(v) for k, v in o.summary.items()},
        }
        for o in outcomes
    ]
    create_table_artifact(key=f"{kind}-fichiers", table=rows, description=f"Fichiers {kind}")
    counts = count_outcomes(outcomes)
    lines = [f"# {kind} : {len(outcomes)} fichier(s)", ""]
    lines += [f"- {name} : {n}" for name, n in counts.items()]
    lines += ["", "| fichier | résultat | rapport |", "|---|---|---|"]
    lines += [f"| {r['fichier']} | {r['resultat']} | {r['rapport'] or r['raison']} |" for r in rows]
    create_markdown_artifact(key=f"{kind}-resume", markdown="\n".join(lines))
    quarantined = [r["fichier"] for r in rows if r["resultat"] == "quarantined"]
    if quarantined:
        announce_quarantine(quarantined)
    for board in boards(migrate(load_settings(root).registry_url)):
        create_markdown_artifact(key=board.key, markdown=board.markdown,
                                 description=f"État du dossier {board.dossier}, {board.month}")
    for outcome in outcomes:
        for alert in outcome.alerts:
            emit_event(event=alert.event,
                       resource={"prefect.resource.id": f"gedflow.run.{flow_run.id}",
                                 "prefect.resource.name": flow_run.name or "gedflow"},
                       payload=alert.payload)
        for artifact in outcome.artifacts:
            if artifact.kind == "table":
                create_table_artifact(key=artifact.key, table=artifact.data,
                                      description=artifact.description)
            else:
                create_markdown_artifact(key=artifact.key, markdown=artifact.data,
                                         description=artifact.description)
