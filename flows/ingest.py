"""The flows that take the files of each inbox folder (one flow run per batch of files).

Parameters are the root and ledger ids: never file content, names of people or NIRs.
"""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from flows.batching import chunks, rounds
from gedflow.db.engine import migrate
from gedflow.inbox import Outcome, folder_period, import_order
from gedflow.kinds import INBOX_KINDS, InboxKind
from gedflow.settings import load_settings
from tasks.intake import process_claims, publish_outcomes


def _run_name() -> str:
    """`crm 2022_08 1 fichier(s)`: the flow, the periods of the GED folders, the file count."""
    claims = flow_run.parameters.get("claims", [])
    periods = sorted({folder_period(rel) for _id, rel in claims} - {""})
    return " ".join([flow_run.flow_name, *periods, f"{len(claims)} fichier(s)"])


def _process_all(root: str, kind: str, claims: list[tuple[int, str]], parallel: bool,
                 disponibilite: str) -> list[Outcome]:
    """Process the claims in chunks, one after the other; with `parallel`, one period after
    the other and the chunks of a period at once, on the flow's task runner (identical files in
    successive rounds)."""
    engine = migrate(load_settings(root).registry_url)
    groups: dict[str, list[int]] = {}
    for claim_id, rel in claims:
        groups.setdefault(folder_period(rel) if parallel else "", []).append(claim_id)
    outcomes: list[Outcome] = []
    for _period_key, ids in sorted(groups.items()):
        if parallel:
            for batch in rounds(engine, ids):
                futures = [process_claims.submit(root, part, kind, disponibilite)
                           for part in chunks(engine, batch)]
                outcomes += [o for future in futures for o in future.result()]
        else:
            for part in chunks(engine, ids):
                outcomes += process_claims(root, part, kind, disponibilite)
    publish_outcomes(root, kind, outcomes)
    return outcomes


def in_order(kind: str, claims: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The order a kind's files are processed in: employeurs files before salaries files, the
    others by path (periods in order)."""
    if kind != "registre":
        return sorted(claims, key=lambda c: c[1])
    order = {rel: i for i, rel in enumerate(import_order([rel for _id, rel in claims]))}
    return sorted(claims, key=lambda c: order[c[1]])


def _flow_of(inbox: InboxKind):
    """The flow of one inbox kind: its files in order, in chunks; on Dask, the kinds that
    allow it parse a period's files in parallel (the CRM hold rule compares periods)."""

    def run(root: str, claims: list[tuple[int, str]], disponibilite: str = "") -> list[Outcome]:
        parallel = inbox.on_dask and load_settings(root).service_executeur == "dask"
        return _process_all(root, inbox.kind, in_order(inbox.kind, claims), parallel,
                            disponibilite)

    run.__name__ = run.__qualname__ = inbox.kind
    run.__doc__ = inbox.description
    return flow(name=inbox.kind, flow_run_name=_run_name, description=inbox.description)(run)


# Inbox folder kind → the flow that takes its files, in the order a sweep takes them.
FLOWS = {k.kind: _flow_of(k) for k in INBOX_KINDS}
registre, dsn, crm, dpae, ar = (FLOWS[k] for k in ("registre", "dsn", "crm", "dpae", "ar"))


@flow(name="publier-en-attente", flow_run_name="publier {kind} en attente")
def publier_en_attente(root: str, kind: str, outcomes: list[Outcome]) -> None:
    """The artifacts of files processed while the Prefect server was away."""
    publish_outcomes(root, kind, outcomes)

