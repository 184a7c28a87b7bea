"""The inbox folder kinds, declared once: folder → kind → flow → handler, in the order a sweep
takes them (the registry first, the others read it; the DSN feeds it; then the CRMs, the hires,
and the ARs of declarations built before). Adding a kind of file is one entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class InboxKind:
    kind: str  # the flow's name and the ledger's kind
    folder: str  # under inbox/ (and under outbox/archive/)
    outbox: str  # the reports' folder under outbox/, "" when they sit beside the archive
    handler: str  # "module:function" processing one claimed file (imported when needed)
    description: str
    on_dask: bool = False  # with [service] executeur = "dask": a period's files in parallel


INBOX_KINDS = (
    InboxKind("registre", "registre", "", "gedflow.registry.importer:handle_registre",
              "Registry imports: employeurs files first, then salaries files."),
    InboxKind("dsn", "dsn", "dsn", "gedflow.dsn.handler:handle_dsn",
              "Monthly DSN: read leniently, the registry fed from the réel declarations."),
    InboxKind("crm", "crm_nominatif/travail", "crm_nominatif", "gedflow.crm.handler:handle_crm",
              "CRM nominatif / financier / taux sur taux: reconcile with the registry, record "
              "rates, report.", on_dask=True),
    InboxKind("dpae", "dpae", "dpae", "gedflow.dpae.handler:handle_dpae",
              "DPAE hires: test de préparation, then dpae.txt / dpae.xml as the mode allows."),
    InboxKind("ar", "AR", "AR", "gedflow.dpae.handler:handle_ar",
              "DPAE acknowledgements: the compte rendu de validation, statuts back in the "
              "registry."),
)
BY_KIND = {k.kind: k for k in INBOX_KINDS}


def handler_of(kind: str) -> Callable:
    module, _, name = BY_KIND[kind].handler.partition(":")
    return getattr(importlib.import_module(module), name)
