"""Outcomes waiting to be published: files processed while the Prefect server was away keep
their outcomes in `.gedflow/a_publier/` (owner-only: reports' summaries), published as soon as
a sweep finds the server back, then removed; what could not be published stays and is said.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from gedflow.fsutil import atomic_write
from gedflow.handler import Alert, Artifact
from gedflow.inbox import Outcome
from gedflow.settings import Settings

log = logging.getLogger(__name__)


def folder(settings: Settings) -> Path:
    return settings.state_dir / "a_publier"


def _jsonable(outcome: Outcome) -> dict:
    data = asdict(outcome)
    data["final_path"] = str(outcome.final_path)
    data["report_path"] = str(outcome.report_path) if outcome.report_path else None
    return data


def _outcome(data: dict) -> Outcome:
    return Outcome(**{**data, "final_path": Path(data["final_path"]),
                      "report_path": Path(data["report_path"]) if data["report_path"] else None,
                      "artifacts": [Artifact(**a) for a in data["artifacts"]],
                      "alerts": [Alert(**a) for a in data.get("alerts", [])]})


def keep(settings: Settings, kind: str, outcomes: list[Outcome]) -> Path:
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    return atomic_write(folder(settings) / f"{stamp}-{kind}.json",
                        json.dumps({"kind": kind, "outcomes": [_jsonable(o) for o in outcomes]},
                                   ensure_ascii=False))


def waiting(settings: Settings) -> list[Path]:
    found = folder(settings)
    return sorted(found.glob("*.json")) if found.exists() else []


def publish(settings: Settings) -> int:
    """Publish what waits (one flow run per saved batch); how many batches are left."""
    from flows.ingest import publier_en_attente

    left = 0
    for path in waiting(settings):
        saved = json.loads(path.read_text(encoding="utf-8"))
        try:
            publier_en_attente(str(settings.root), saved["kind"],
                               [_outcome(o) for o in saved["outcomes"]])
        except Exception:  # the server went away again: kept for the next sweep
            log.exception("publication of %s failed: kept", path.name)
            left += 1
            continue
        path.unlink()
    return left
