"""One pass over the inbox: take over what crashed runs left, claim the complete files, then one
flow run per folder kind — the registry first (the others read it), then CRM, hires, ARs.

Used by `gedflow run` (until the inbox is empty), the watcher (on each hint or periodic scan)
and the scheduled `balayage-inbox` deployment (the watcher's safety net).
"""

from __future__ import annotations

from collections.abc import Callable

from prefect import flow

from flows import pending
from flows.ingest import FLOWS, in_order
from flows.runners import task_runner
from gedflow.db.engine import migrate
from gedflow.handler import Claim
from gedflow.inbox import Outcome
from gedflow.intake import claim_ready, count_outcomes, process, refuse_unknown
from gedflow.settings import Settings, load_settings
from tasks.intake import HANDLERS


def dispatch_direct(settings: Settings, claims: list[Claim]) -> list[Outcome]:
    """Without the Prefect server: the same handlers in the same order, in this process; the
    outcomes are kept to be published when the server is back (`flows.pending`)."""
    engine = migrate(settings.registry_url)
    by_id = {c.id: c for c in claims}
    outcomes: list[Outcome] = []
    for kind in FLOWS:
        mine = [(c.id, c.rel) for c in claims if c.kind == kind]
        done = [process(settings, engine, by_id[i], HANDLERS[kind])
                for i, _rel in in_order(kind, mine)]
        if done:
            pending.keep(settings, kind, done)
        outcomes += done
    unknown = [c for c in claims if c.kind not in FLOWS]
    return outcomes + [process(settings, engine, c, refuse_unknown) for c in unknown]


def dispatch(
    settings: Settings, claims: list[Claim], on_batch: Callable[[int], None] | None = None
) -> list[Outcome]:
    """Claimed files to the flow of their folder (one run per kind); others to quarantine."""
    by_kind: dict[str, list[Claim]] = {}
    for c in claims:
        by_kind.setdefault(c.kind, []).append(c)
    outcomes: list[Outcome] = []
    runner = task_runner(settings)  # each flow run takes its own copy
    for kind, flow_ in FLOWS.items():
        batch = by_kind.pop(kind, [])
        if batch:
            outcomes += flow_.with_options(task_runner=runner)(
                str(settings.root), [(c.id, c.rel) for c in batch], settings.crm_disponibilite)
            if on_batch:
                on_batch(len(batch))
    engine = migrate(settings.registry_url)
    unknown = [c for batch in by_kind.values() for c in batch]
    return outcomes + [process(settings, engine, c, refuse_unknown) for c in unknown]


@flow(name="balayage-inbox", flow_run_name="balayage inbox")
def balayer_inbox(root: str) -> dict[str, int]:
    """The scheduled safety net: everything complete in the inbox, now."""
    settings = load_settings(root)
    claims, settling = claim_ready(settings, migrate(settings.registry_url))
    outcomes = dispatch(settings, claims)
    return {**count_outcomes(outcomes), "en_cours_d_ecriture": len(settling)}
