"""Prefect's environment for gedflow commands, set before `prefect` is first imported.

A local Prefect server is used when one answers on 127.0.0.1:4200; otherwise Prefect's ephemeral
mode, with its home under `.gedflow/prefect` and a start-up timeout long enough for this machine
(prefect.md §2: the 20 s default fails on a fresh home). Values already in the environment win.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from gedflow.settings import Settings

LOCAL_API = "http://127.0.0.1:4200/api"


def server_answers(api_url: str = LOCAL_API, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


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
        env["PREFECT_API_URL"] = LOCAL_API if server_answers() else ""
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

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._url: str | None = None

    def ensure(self) -> str:
        if self._url is None:
            self._url = self._stack.enter_context(prefect_api())
        return self._url


@contextmanager
def prefect_api() -> Iterator[str]:
    """The API to run flows against: the configured one, else a temporary local server.

    Prefect's own ephemeral mode loses every event here (its EventsWorker fails with
    "api_url must be provided" in 3.8.8), so we start the same subprocess server ourselves and
    point `PREFECT_API_URL` at it for the duration of the command.
    """
    from prefect import settings as ps
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer

    url = ps.PREFECT_API_URL.value()
    server = None
    if not url:
        server = SubprocessASGIServer()
        server.start(timeout=ps.PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        url = server.api_url
    try:
        # A one-off command: no heartbeat thread (~1 s per flow run, prefect.md §2).
        with ps.temporary_settings(
            updates={ps.PREFECT_API_URL: url, ps.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        ):
            yield url
            # Deliver pending logs and events before the temporary server goes away.
            APILogWorker.drain_all(timeout=10)
            EventsWorker.drain_all(timeout=10)
    finally:
        if server is not None:
            server.stop()
