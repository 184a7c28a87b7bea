"""The background runner of one-off `gedflow run`s: a process that keeps Prefect, pandas and
the handlers imported, so that a run after the first one does not pay for them again (about
3 s here, twice Prefect's own import).

A `gedflow run` that finds no runner starts one (in the background, beside the local Prefect
server) and does its own run meanwhile; the next runs hand theirs to it over a Unix socket in
`.gedflow/` (owner-only, like the folder) and print what it did. The runner does exactly what
the command would do (`process_inbox`: the same flows, the same claims). It serves the code
and the environment it was started with: a caller whose fingerprint differs (code changed,
other GEDFLOW_/PREFECT_ variables) makes it stop and runs on its own. It stops after `IDLE`
seconds without a run, and with `gedflow server stop`. Its output goes to
`.gedflow/logs/runner.log`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from gedflow.settings import CHECKOUT, Settings, load_settings

log = logging.getLogger(__name__)
IDLE = 1800.0  # seconds without a run before the runner stops
PACKAGES = ("gedflow", "flows", "tasks", "schemas")


def _socket(settings: Settings) -> Path:
    return settings.state_dir / "runner.sock"


def _pidfile(settings: Settings) -> Path:
    return settings.state_dir / "runner.pid"


def fingerprint(settings: Settings) -> str:
    """What a runner shares with its callers: the interpreter, the root, the code (each
    file's size and time) and the GEDFLOW_/PREFECT_ environment."""
    digest = hashlib.sha256(f"{sys.executable}\0{settings.root}".encode())
    for package in PACKAGES:
        for path in sorted((CHECKOUT / package).rglob("*.py")):
            stat = path.stat()
            digest.update(f"\0{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for name in sorted(os.environ):
        if name.startswith(("GEDFLOW_", "PREFECT_")):
            digest.update(f"\0{name}={os.environ[name]}".encode())
    return digest.hexdigest()


def ask(settings: Settings, disponibilite: str | None) -> dict | None:
    """The run done by the runner (`rows`, `waiting`, `failed`); None when there is none for
    this fingerprint, or it failed: the caller runs on its own."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(_socket(settings)))
            request = {"fingerprint": fingerprint(settings), "disponibilite": disponibilite}
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = json.loads(sock.makefile("rb").readline() or b"{}")
    except (OSError, ValueError):  # none, stale socket, or it died during the run
        return None
    return answer if "rows" in answer else None


def start(settings: Settings) -> None:
    """Start a runner for the next runs (its imports take a few seconds: not waited for)."""
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = os.open(logs / "runner.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        subprocess.Popen([sys.executable, "-m", "flows.runner", str(settings.root),
                          fingerprint(settings)], cwd=CHECKOUT, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        os.close(log)


def stop(settings: Settings) -> bool:
    """Stop this root's runner; False if none was running."""
    from flows.server import stop_pidfile

    return stop_pidfile(_pidfile(settings))


def running(settings: Settings) -> int | None:
    """The pid of this root's runner, None when none runs (its pidfile gone, or naming a
    process that is gone or started after it: the pid reused)."""
    from gedflow.procs import pid_alive, started_after

    pidfile = _pidfile(settings)
    try:
        pid, written = int(pidfile.read_text()), pidfile.stat().st_mtime
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) and not started_after(pid, written) else None


def _run(settings: Settings, request: dict) -> dict:
    from flows.cli.base import run_once

    if request.get("disponibilite"):
        settings = replace(settings, crm_disponibilite=request["disponibilite"])
    done = run_once(settings)
    log.info("run: %d file(s)", len(done["rows"]))
    return done


def _log_to_output() -> None:
    """The runner's lines to its output (`.gedflow/logs/runner.log`), whatever Prefect's
    logging setup does to the root logger."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def serve(root: str, mine: str) -> None:
    """Serve runs for callers of fingerprint `mine` until idle, stale or stopped. One runner
    per root (a lock held for its life); runs one at a time."""
    settings = load_settings(root)
    lock = (settings.state_dir / "runner.lock").open("a")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another runner serves this root
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _log_to_output()
    path = _socket(settings)
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))  # callers wait in the backlog while the imports go on
    finally:
        os.umask(old)
    listener.listen(8)
    _pidfile(settings).write_text(str(os.getpid()))
    try:
        from flows.prefect_env import configure

        configure(settings)
        import flows.sweep  # noqa: F401 - the imports the runs would pay

        listener.settimeout(IDLE)
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return
            with conn:
                request = json.loads(conn.makefile("rb").readline() or b"{}")
                if request.get("fingerprint") != mine:
                    conn.sendall(b'{"stale": true}\n')
                    return
                try:
                    answer = _run(load_settings(root), request)
                except Exception as exc:  # noqa: BLE001 - the caller runs on its own
                    log.exception("run failed")
                    answer = {"error": repr(exc)}
                try:
                    conn.sendall(json.dumps(answer).encode() + b"\n")
                except OSError:  # the caller is gone (Ctrl-C): the run is done all the same
                    pass
    finally:
        path.unlink(missing_ok=True)
        _pidfile(settings).unlink(missing_ok=True)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
