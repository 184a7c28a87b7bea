"""The flows that take the files of each inbox folder (one flow run per batch of files).

Parameters are the root and ledger ids: never file content, names of people or NIRs.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from prefect import flow
from prefect.runtime import flow_run

from gedflow.crm.handler import PERIOD_FOLDER
from gedflow.intake import Outcome, chunks
from gedflow.registry.db import migrate
from gedflow.registry.importer import import_order
from gedflow.settings import load_settings
from tasks.intake import process_claims, publish_outcomes


def _run_name() -> str:
    """`crm 2022_08 1 fichier(s)`: the flow, the periods of the GED folders, the file count."""
    claims = flow_run.parameters.get("claims", [])
    periods = sorted({p for _id, rel in claims for p in PurePosixPath(rel).parts[:-1]
                      if PERIOD_FOLDER.match(p)})
    return " ".join([flow_run.flow_name, *periods, f"{len(claims)} fichier(s)"])


def _process_all(root: str, kind: str, claims: list[tuple[int, str]]) -> list[Outcome]:
    engine = migrate(load_settings(root).registry_url)
    outcomes: list[Outcome] = []
    for ids in chunks(engine, [claim_id for claim_id, _rel in claims]):
        outcomes += process_claims(root, ids, kind)
    publish_outcomes(root, kind, outcomes)
    return outcomes


@flow(name="registre", flow_run_name=_run_name)
def registre(root: str, claims: list[tuple[int, str]]) -> list[Outcome]:
    """Registry imports: employeurs files first, then salaries files."""
    order = {rel: i for i, rel in enumerate(import_order([rel for _id, rel in claims]))}
    ordered = sorted(claims, key=lambda c: order[c[1]])
    return _process_all(root, "registre", ordered)


@flow(name="crm", flow_run_name=_run_name)
def crm(root: str, claims: list[tuple[int, str]]) -> list[Outcome]:
    """CRM nominatif / financier: reconcile with the registry, record rates, report."""
    return _process_all(root, "crm", sorted(claims, key=lambda c: c[1]))


@flow(name="dpae", flow_run_name=_run_name)
def dpae(root: str, claims: list[tuple[int, str]]) -> list[Outcome]:
    """DPAE hires: test de préparation, then dpae.txt / dpae.xml as the mode allows."""
    return _process_all(root, "dpae", sorted(claims, key=lambda c: c[1]))


@flow(name="ar", flow_run_name=_run_name)
def ar(root: str, claims: list[tuple[int, str]]) -> list[Outcome]:
    """DPAE acknowledgements: the compte rendu de validation, statuts back in the registry."""
    return _process_all(root, "ar", sorted(claims, key=lambda c: c[1]))


# Inbox folder kind → the flow that takes its files, in the order a run takes them: the registry
# first (the others read it), then the CRM, the hires, and the ARs of declarations built before.
FLOWS = {"registre": registre, "crm": crm, "dpae": dpae, "ar": ar}
