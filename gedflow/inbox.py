"""The inbox as files: those waiting, of which kind, complete or still being written, the GED
period folder each sits in and the order a kind's files go in; where claimed files ended up
(the ledger's counts, read on the driver). Light to import: `gedflow status` and every run use
it. The claims themselves are `gedflow.intake`'s."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from gedflow.db.reading import rows
from gedflow.handler import Alert, Artifact
from gedflow.kinds import INBOX_KINDS
from gedflow.settings import Settings
from schemas.registre import LAYOUTS

PERIOD_FOLDER = re.compile(r"^\d{4}_(0[1-9]|1[0-2])$")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload")
UNKNOWN = "inconnu"


def kind_of(rel: str) -> str:
    """The kind of a file from its path relative to `inbox/` (gedflow/kinds.py)."""
    for k in INBOX_KINDS:
        if rel.startswith(f"{k.folder}/"):
            return k.kind
    return UNKNOWN


def is_ignored(name: str) -> bool:
    """Temporary names used by writers still at work (dot files, .part, .tmp, .crdownload)."""
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True)
class Pending:
    """A file seen in the inbox; `complete` once unchanged for the settle delay."""

    path: Path
    rel: str
    kind: str
    complete: bool


@dataclass(frozen=True)
class Outcome:
    """Where a claimed file ended up."""

    claim_id: int
    kind: str
    rel: str
    outcome: str  # archived | quarantined | duplicate
    final_path: Path
    report_path: Path | None = None
    reason: str = ""
    summary: dict = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


def scan(settings: Settings, now: float | None = None) -> list[Pending]:
    """Every candidate file in the inbox, complete or still settling (temp names skipped)."""
    now = now if now is not None else datetime.now(UTC).timestamp()
    found = []
    for dirpath, dirnames, filenames in os.walk(settings.inbox):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if is_ignored(name):
                continue
            path = Path(dirpath) / name
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            rel = path.relative_to(settings.inbox).as_posix()
            complete = now - mtime >= settings.settle_seconds
            found.append(Pending(path=path, rel=rel, kind=kind_of(rel), complete=complete))
    return found


def outcome_counts(conn: Any) -> dict[str, int]:
    """Files in the ledger per outcome ("en cours": not finished yet)."""
    found = rows(conn, "SELECT outcome, COUNT(*) FROM ledger GROUP BY outcome")
    return {outcome or "en cours": n for outcome, n in found}


def folder_period(rel: str) -> str:
    """The `YYYY_MM` folder a file was dropped in (the innermost one), else ""."""
    folders = [p for p in PurePosixPath(rel).parts[:-1] if PERIOD_FOLDER.match(p)]
    return folders[-1] if folders else ""


def import_order(names: list[str]) -> list[str]:
    """Files in the order of `LAYOUTS` (employeurs before salaries), then by name (one run
    imports both kinds)."""

    def rank(name: str) -> tuple[int, str]:
        lower = PurePath(name).name.lower()
        order = [i for i, layout in enumerate(LAYOUTS) if lower.startswith(layout.prefix)]
        return (order[0] if order else len(LAYOUTS), lower)

    return sorted(names, key=rank)
