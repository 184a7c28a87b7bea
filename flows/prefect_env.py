"""Prefect's environment for gedflow commands, set before `prefect` is first imported.

Flows run against the local Prefect server (127.0.0.1, `[service] port`, home under
`.gedflow/prefect`); a one-off command that finds none starts it in the background
(flows/server.py).
Values already in the environment win (a remote server, the test harness).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from flows.server import server_answers, start_server
from gedflow.settings import Settings


def prefect_environment(settings: Settings) -> dict[str, str]:
    """The variables gedflow sets for Prefect (defaults only: the caller's environment wins)."""
    env = {
        "PREFECT_HOME": str(settings.prefect_home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "gedflow",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    if "PREFECT_API_URL" not in os.environ:
        env["PREFECT_API_URL"] = settings.api_url if server_answers(settings.api_url) else ""
    return env


def configure(settings: Settings) -> None:
    """Export gedflow's Prefect settings into this process (before importing prefect)."""
    for key, value in prefect_environment(settings).items():
        os.environ.setdefault(key, value)


def migrate_prefect_home(settings: Settings) -> bool:
    """Create Prefect's SQLite database ahead of time so ephemeral runs start fast."""
    if (settings.prefect_home / "prefect.db").exists():
        return False
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **prefect_environment(settings), "PREFECT_API_URL": ""}
    subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    return True


class LazyApi:
    """The Prefect API of one command: brought up at its first flow run (a command with nothing
    to process starts no server), kept until the command ends."""

    def __init__(self, stack: ExitStack, settings: Settings) -> None:
        self._stack = stack
        self._settings = settings
        self._url: str | None = None

    def ensure(self) -> str:
        if self._url is None:
            self._url = self._stack.enter_context(prefect_api(self._settings))
        return self._url


@contextmanager
def prefect_api(settings: Settings) -> Iterator[str]:
    """The API to run flows against: the configured one, else the local server (started in the
    background when it is not running: later commands find it warm).

    Not Prefect's ephemeral mode: in 3.8.8 its EventsWorker loses every event here ("api_url must
    be provided"), and it pays a server start on every command.
    """
    from prefect import settings as ps
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    url = ps.PREFECT_API_URL.value()
    if not url:  # started now, unless an earlier run of this process started it
        if not server_answers(settings.api_url):
            start_server(settings, dict(os.environ))
        url = settings.api_url
    # A one-off command: no heartbeat thread (~1 s per flow run).
    with ps.temporary_settings(
        updates={ps.PREFECT_API_URL: url, ps.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    ):
        yield url
        # Deliver pending logs and events before the command exits.
        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)
