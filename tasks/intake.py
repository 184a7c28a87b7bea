"""Thin Prefect tasks around `gedflow.intake`: process one claimed file, publish artifacts."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from gedflow.crm.handler import handle_crm
from gedflow.dpae.handler import handle_ar, handle_dpae
from gedflow.intake import Handler, Outcome, claims_by_id, process
from gedflow.registry.db import migrate
from gedflow.registry.importer import handle_registre
from gedflow.settings import load_settings

# Inbox folder kind → the domain function that processes one of its files.
HANDLERS: dict[str, Handler] = {
    "registre": handle_registre, "crm": handle_crm, "dpae": handle_dpae, "ar": handle_ar,
}


@task(name="traiter-fichier", task_run_name="{kind} #{claim_id}", cache_policy=NO_CACHE)
def process_claim(root: str, claim_id: int, kind: str) -> Outcome | None:
    """Process one claimed file (by ledger id) with the handler of its folder."""
    settings = load_settings(root)
    engine = migrate(settings.registry_url)
    found = claims_by_id(settings, engine, [claim_id])
    if not found:
        get_run_logger().warning("ledger row %s is no longer waiting: skipped", claim_id)
        return None
    outcome = process(settings, engine, found[0], HANDLERS[kind])
    get_run_logger().info("ledger row %s (%s): %s", claim_id, kind, outcome.outcome)
    return outcome


def _rel(root: Path, path: Path | None) -> str:
    return path.relative_to(root).as_posix() if path else ""


@task(name="publier-resultats", cache_policy=NO_CACHE)
def publish_outcomes(root: str, kind: str, outcomes: list[Outcome]) -> None:
    """A table artifact (one row per file) and a markdown summary with counts."""
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
    counts = {name: sum(o.outcome == name for o in outcomes)
              for name in ("archived", "quarantined", "duplicate")}
    lines = [f"# {kind} : {len(outcomes)} fichier(s)", ""]
    lines += [f"- {name} : {n}" for name, n in counts.items()]
    lines += ["", "| fichier | résultat | rapport |", "|---|---|---|"]
    lines += [f"| {r['fichier']} | {r['resultat']} | {r['rapport'] or r['raison']} |" for r in rows]
    create_markdown_artifact(key=f"{kind}-resume", markdown="\n".join(lines))
    for outcome in outcomes:
        for artifact in outcome.artifacts:
            if artifact.kind == "table":
                create_table_artifact(key=artifact.key, table=artifact.data,
                                      description=artifact.description)
            else:
                create_markdown_artifact(key=artifact.key, markdown=artifact.data,
                                         description=artifact.description)
