"""The local Prefect server (UI, scheduler, automations) with its database under `.gedflow/prefect`.

`gedflow serve` runs it as a child and stops it on exit; a one-off `gedflow run` that finds none
starts it in the background and leaves it for the next runs (a cold start costs 10–25 s
here); `gedflow server stop` stops it. Its output goes to `.gedflow/logs/`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gedflow import health
from gedflow.errors import ConfigError
from gedflow.procs import pid_alive
from gedflow.settings import Settings

log = logging.getLogger(__name__)
START_TIMEOUT = 180.0


def server_answers(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


def open_to_network(api_url: str, timeout: float = 3.0) -> str:
    """Why an API reachable beyond this machine is a risk, "" when it is not: it answers
    without authentication (no `PREFECT_SERVER_API_AUTH_STRING` on the server)."""
    host = urllib.parse.urlsplit(api_url).hostname or ""
    try:
        if ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            return ""
    except (OSError, ValueError):
        return ""
    request = urllib.request.Request(f"{api_url.rstrip('/')}/flows/filter", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (our API)
            pass
    except OSError:  # refused (401: authentication on), unreachable or failing: not open
        return ""
    return (f"l'API {api_url} répond sans authentification à qui la joint sur le réseau "
            "(runs et artefacts nominatifs) : PREFECT_SERVER_API_AUTH_STRING sur le serveur, "
            "PREFECT_API_AUTH_STRING sur les postes")


def _pidfile(settings: Settings) -> Path:
    return settings.state_dir / "prefect-server.pid"


def server_log(settings: Settings) -> Path:
    return settings.state_dir / "logs" / "prefect-server.log"


def start_server(settings: Settings, env: dict[str, str]) -> subprocess.Popen:
    """Launch `prefect server start` on 127.0.0.1 and wait until its API answers. In its own
    session: a Ctrl-C in the terminal reaches gedflow only, which stops its runs first, then
    the server (stopped first, the runner's observers fail and shutdown takes ~30 s)."""
    log_path = server_log(settings)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    with log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start",
             "--host", "127.0.0.1", "--port", str(settings.service_port)],
            env={**env, "PREFECT_API_URL": settings.api_url},
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _pidfile(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT
    while not server_answers(settings.api_url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            tail = log_path.read_text(errors="replace").splitlines()[-5:]
            raise ConfigError(
                f"le serveur Prefect n'a pas démarré sur {settings.api_url} "
                f"(port déjà pris ? journal : {log_path})\n" + "\n".join(tail)
            )
        time.sleep(0.5)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_background_server(settings: Settings, timeout: float = 20.0) -> bool:
    """Stop the server a `gedflow run` left in the background; False if none was running."""
    return stop_pidfile(_pidfile(settings), timeout)


def stop_pidfile(pidfile: Path, timeout: float = 20.0) -> bool:
    """Stop the process `pidfile` names: SIGTERM, then SIGKILL if it lingers past `timeout`;
    False if none was running."""
    try:
        pid = int(pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return False
    pidfile.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    if not pid_alive(pid):
        return False
    try:  # a stopped child of ours stays a zombie until reaped
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


class Supervisor(threading.Thread):
    """Keeps the server this process started alive: when it dies, it is started again after
    a pause that doubles each time (2 s up to 60 s), each step logged and the outage said as
    an incident (the watcher goes on without it meanwhile)."""

    def __init__(self, settings: Settings, env: dict[str, str], proc: subprocess.Popen,
                 check: float = 2.0) -> None:
        super().__init__(name="gedflow-superviseur-prefect", daemon=True)
        self.settings, self.env, self.proc, self.check = settings, env, proc, check
        self.restarts = 0
        self._stop = threading.Event()

    def run(self) -> None:
        pause = 2.0
        while not self._stop.wait(self.check):
            if self.proc.poll() is None:
                continue
            log.warning("Prefect server stopped (code %s): restarting in %.0f s",
                        self.proc.returncode, pause)
            health.begin(self.settings, health.PREFECT,
                         f"le serveur Prefect local s'est arrêté (code {self.proc.returncode})")
            if self._stop.wait(pause):
                return
            try:
                self.proc = start_server(self.settings, self.env)
            except ConfigError as exc:
                log.error("Prefect server restart failed: %s", exc)
                pause = min(pause * 2, 60.0)
                continue
            self.restarts += 1
            pause = 2.0
            log.warning("Prefect server restarted (%d)", self.restarts)
            health.end(self.settings, health.PREFECT)

    def stop(self) -> subprocess.Popen:
        self._stop.set()
        self.join(timeout=10)
        return self.proc


@contextmanager
def local_server(settings: Settings, env: dict[str, str],
                 supervise: bool = False) -> Iterator[str]:
    """The local server's API URL for the duration of the block: reused when it already
    answers, else started as a child (kept alive with `supervise`) and stopped at the end."""
    if server_answers(settings.api_url):
        yield settings.api_url
        return
    proc = start_server(settings, env)
    supervisor = Supervisor(settings, env, proc) if supervise else None
    if supervisor:
        supervisor.start()
    try:
        yield settings.api_url
    finally:
        stop(supervisor.stop() if supervisor else proc)
        _pidfile(settings).unlink(missing_ok=True)
