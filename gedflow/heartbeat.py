"""The watcher's heartbeat: `.gedflow/watcher.json`, rewritten after every sweep, read by
`gedflow status` (without the watcher's own imports)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gedflow.settings import Settings


@dataclass
class Heartbeat:
    """What the watcher last said of itself."""

    pid: int
    host: str
    observer: str
    started_at: str
    beat_at: str = ""
    sweeps: int = 0
    files: int = 0
    errors: int = 0
    observer_restarts: int = 0
    last_error: str = ""
    settling: int = 0
    period_seconds: float = 0.0


def heartbeat_path(settings: Settings) -> Path:
    return settings.state_dir / "watcher.json"


def read_heartbeat(settings: Settings) -> Heartbeat | None:
    try:
        return Heartbeat(**json.loads(heartbeat_path(settings).read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
