"""The inbox watcher: watchdog events are only hints, a periodic full scan is the truth.

Measured: inotify loses events under bursts (thousands of files), sees an overwritten
file only as "modified", fires before a file is complete and does not work on network shares.
So every hint (any event on a non-temporary name) just wakes the loop, which sweeps the whole
inbox (claims are checked against the ledger); the loop also sweeps every
`service_balayage_secondes`, once more when files still settling should be complete, and
restarts an observer thread that died. A heartbeat file says the watcher is alive.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from gedflow import health
from gedflow.errors import StorageError
from gedflow.fsutil import atomic_write
from gedflow.heartbeat import Heartbeat, heartbeat_path
from gedflow.inbox import is_ignored
from gedflow.settings import Settings

log = logging.getLogger(__name__)

NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph"}
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did: files taken to a flow, files still being written."""

    done: int
    settling: int


def on_network_share(path: Path, mounts: str | None = None) -> bool:
    """Whether `path` lives on a network file system (no inotify events there); `mounts` is
    the text of /proc/mounts."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return False
    best, kind = "", ""
    target = str(path.resolve())
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        inside = target == parts[1] or target.startswith(parts[1].rstrip("/") + "/")
        if inside and len(parts[1]) > len(best):
            best, kind = parts[1], parts[2]
    return kind in NETWORK_FS


class _Hints(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        path = getattr(event, "dest_path", "") or event.src_path
        if not is_ignored(Path(os.fsdecode(path)).name):
            self._wake.set()


def _interrupted(exc: BaseException) -> bool:
    """Whether a failure comes from a stop signal (Ctrl-C, SIGTERM) caught inside a flow run:
    the orchestrator turns it into its own termination signal, sometimes re-raised as another
    error (seen: ValueError "Task run is not set")."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt) or type(seen).__name__ == "TerminationSignal":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Watcher:
    """Sweeps the inbox on every hint and periodically; `sweep` does the work (claim + flows)."""

    def __init__(self, settings: Settings, sweep: Callable[[], SweepResult],
                 on_beat: Callable[[Heartbeat], None] | None = None) -> None:
        self.settings = settings
        self._sweep = sweep
        self._on_beat = on_beat
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self.failures = 0  # sweeps failed in a row
        polling = (settings.service_observateur == "polling"
                   or on_network_share(settings.inbox))
        self.heartbeat = Heartbeat(
            pid=os.getpid(), host=socket.gethostname(),
            observer="polling" if polling else "inotify",
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            period_seconds=settings.service_balayage_secondes,
        )

    def _start_observer(self) -> None:
        if self.heartbeat.observer == "polling":
            observer: BaseObserver = PollingObserver(timeout=POLL_SECONDS)
        else:
            observer = Observer()
        observer.schedule(_Hints(self.wake), str(self.settings.inbox), recursive=True)
        try:
            observer.start()
        except OSError as exc:  # inotify watch/instance limits (errno 28 / 24)
            log.warning("inotify unavailable (%s): polling the inbox instead", exc)
            self.heartbeat.observer = "polling"
            observer = PollingObserver(timeout=POLL_SECONDS)
            observer.schedule(_Hints(self.wake), str(self.settings.inbox), recursive=True)
            observer.start()
        self._observer = observer

    def _check_observer(self) -> None:
        if self._observer is not None and not self._observer.is_alive():
            log.warning("the inbox observer stopped: restarting it")
            self.heartbeat.observer_restarts += 1
            self._start_observer()

    def stop(self) -> None:
        """Ask `run` to return after the sweep in progress (from another thread)."""
        self._stop.set()
        self.wake.set()

    def run(self) -> None:
        """Sweep until `stop`; a failing sweep is logged and retried, never fatal."""
        stop = self._stop
        self.settings.inbox.mkdir(parents=True, exist_ok=True)
        self._start_observer()
        period = self.settings.service_balayage_secondes
        next_full = time.monotonic()  # a sweep at start: files dropped while stopped
        next_settled = float("inf")
        try:
            while not stop.is_set():
                self.wake.wait(max(0.0, min(next_full, next_settled) - time.monotonic()))
                if stop.is_set():
                    break
                self.wake.clear()
                self._check_observer()
                now = time.monotonic()
                result = self._safe_sweep()
                next_settled = (now + max(0.1, self.settings.settle_seconds)
                                if result.settling else float("inf"))
                if now >= next_full:
                    next_full = now + period
                self._beat(result)
        finally:
            if self._observer is not None:
                self._observer.stop()
                self._observer.join(timeout=10)

    def _safe_sweep(self) -> SweepResult:
        """The sweep; its failures counted, and said (health) once they are an incident: the
        disk at once, any other after `service_echecs_balayage` in a row."""
        try:
            result = self._sweep()
        except Exception as exc:  # the watcher must outlive one bad sweep
            if _interrupted(exc):  # a stop signal that reached a flow run: stop, as asked
                raise KeyboardInterrupt from exc
            log.exception("inbox sweep failed")
            self.heartbeat.errors += 1
            self.failures += 1
            detail = f"{type(exc).__name__}: {exc}"[:300]
            self.heartbeat.last_error = detail
            if isinstance(exc, StorageError):
                health.begin(self.settings, health.DISQUE, detail)
            if isinstance(exc, OperationalError | InterfaceError):
                health.begin(self.settings, health.BASE, detail)
            if self.failures >= self.settings.service_echecs_balayage:
                health.begin(self.settings, health.BALAYAGES,
                             f"{self.failures} balayages en échec d'affilée ; dernier : {detail}")
            return SweepResult(0, 0)  # the next periodic sweep tries again
        self.failures = 0
        health.end(self.settings, health.BASE)
        health.end(self.settings, health.DISQUE)
        health.end(self.settings, health.BALAYAGES)
        return result

    def _beat(self, result: SweepResult) -> None:
        beat = self.heartbeat
        beat.beat_at = datetime.now(UTC).isoformat(timespec="seconds")
        beat.sweeps += 1
        beat.files += result.done
        beat.settling = result.settling
        atomic_write(heartbeat_path(self.settings), json.dumps(asdict(beat), indent=1))
        if self._on_beat is not None:
            try:
                self._on_beat(beat)
            except Exception:
                log.exception("heartbeat publication failed")
