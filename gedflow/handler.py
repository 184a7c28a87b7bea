"""The contract between the intake and the handlers of each kind of file: a handler gets a
`Job` (the claimed file, where it will be archived, the settings and the registry) and returns a
`HandlerResult` (its report, a summary, artifacts for the Prefect UI and alerts); it raises
`InputError` for a file that is not what it claims. Plain data, no Prefect.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gedflow.settings import Settings


@dataclass(frozen=True)
class Claim:
    """A file taken out of the inbox, recorded in the ledger."""

    id: int
    kind: str
    rel: str
    path: Path
    sha256: str


@dataclass
class Job:
    """What a handler gets: the claimed file and where it will be archived."""

    settings: Settings
    engine: Engine
    claim: Claim
    archive_path: Path


@dataclass(frozen=True)
class Artifact:
    """A report for the Prefect UI, published by the task layer (key: lowercase and dashes)."""

    key: str
    kind: str  # table | markdown
    data: list[dict] | str
    description: str = ""


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key from its parts: lowercase, dashes for anything else."""
    return "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts)


# The events of `Alert`s, each turned into a notification by an automation (flows/alerts.py).
CONTROL_EVENT = "gedflow.dsn.controle"  # a DSN's controls found an erreur
MISSING_DPAE_EVENT = "gedflow.dsn.dpae-manquante"  # a hire of a DSN without DPAE
TAUX_SUR_TAUX_EVENT = "gedflow.crm.taux-sur-taux"  # the DGFiP says rates were not applied


@dataclass(frozen=True)
class Alert:
    """Something the office must hear of at once: a Prefect event (published by the task
    layer) that an automation turns into a notification (flows/alerts.py). No NIR."""

    event: str
    payload: dict


@dataclass
class HandlerResult:
    report_path: Path | None = None
    summary: dict = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


Handler = Callable[[Job], HandlerResult]
