"""The inbox watcher without Prefect: hints wake it, the periodic sweep is the truth, a dead
observer is restarted, a failing sweep is survived, the heartbeat tells."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from gedflow.db.tables import ledger
from gedflow.heartbeat import read_heartbeat
from gedflow.intake import claim_ready, process
from gedflow.settings import Settings
from gedflow.watch import SweepResult, Watcher, _Hints, on_network_share

from .test_intake import ok_handler

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _sweeper(settings: Settings, engine: Engine) -> Callable[[], SweepResult]:
    def sweep() -> SweepResult:
        claims, settling = claim_ready(settings, engine)
        for c in claims:
            process(settings, engine, c, ok_handler)
        return SweepResult(len(claims), len(settling))
    return sweep


def _done(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ledger)
                            .where(ledger.c.state == "done")).scalar()


def _wait(predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def running(settings: Settings, engine: Engine) -> Iterator[Callable[..., Watcher]]:
    threads: list[tuple[threading.Thread, Watcher]] = []

    def start(sweep: Callable[[], SweepResult] | None = None, **changes: object) -> Watcher:
        tuned = replace(settings, settle_seconds=0.2, **changes)
        watcher = Watcher(tuned, sweep or _sweeper(tuned, engine))
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        threads.append((thread, watcher))
        _wait(lambda: watcher.heartbeat.sweeps >= 1)  # the start-up sweep
        return watcher

    yield start
    for thread, watcher in threads:
        watcher.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


def _drop(settings: Settings, n: int, prefix: str = "f") -> None:
    folder = settings.inbox / "registre"
    for i in range(n):
        (folder / f"{prefix}{i}.csv").write_text(f"{prefix} {i}\n")


def test_a_burst_is_taken_on_hints_alone(settings: Settings, engine: Engine, running) -> None:
    watcher = running(service_balayage_secondes=3600)  # no periodic sweep in this test
    _drop(settings, 300)
    _wait(lambda: _done(engine) == 300)
    _wait(lambda: (read_heartbeat(settings) or watcher.heartbeat).files == 300)
    beat = read_heartbeat(settings)
    assert beat is not None and beat.errors == 0 and beat.observer == "inotify"
    assert beat.pid > 0 and beat.beat_at


def test_lost_events_are_caught_by_the_periodic_sweep(
    settings: Settings, engine: Engine, running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Hints, "on_any_event", lambda self, event: None)  # inotify overflow
    running(service_balayage_secondes=0.5)
    _drop(settings, 20)
    _wait(lambda: _done(engine) == 20)


def test_temporary_names_wait_for_their_rename(
    settings: Settings, engine: Engine, running
) -> None:
    running(service_balayage_secondes=3600)
    part = settings.inbox / "registre" / "big.csv.part"
    part.write_text("still writing\n")
    time.sleep(1.0)
    assert _done(engine) == 0
    part.rename(part.with_suffix(""))
    _wait(lambda: _done(engine) == 1)


def test_a_dead_observer_is_restarted(settings: Settings, engine: Engine, running) -> None:
    watcher = running(service_balayage_secondes=0.3)
    observer = watcher._observer
    assert observer is not None
    observer.stop()
    observer.join(timeout=5)
    _wait(lambda: watcher.heartbeat.observer_restarts == 1)
    _drop(settings, 5)
    _wait(lambda: _done(engine) == 5)


def test_a_failing_sweep_is_survived(settings: Settings, engine: Engine, running) -> None:
    real = _sweeper(settings, engine)
    calls = []

    def flaky() -> SweepResult:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        return real()

    watcher = running(flaky, service_balayage_secondes=0.3)
    _drop(settings, 3)
    _wait(lambda: _done(engine) == 3)
    assert watcher.heartbeat.errors == 1
    assert "database is locked" in watcher.heartbeat.last_error


def test_polling_when_configured_or_on_a_network_share(
    settings: Settings, engine: Engine, running
) -> None:
    watcher = running(service_observateur="polling", service_balayage_secondes=3600)
    assert watcher.heartbeat.observer == "polling"
    _drop(settings, 2)
    _wait(lambda: _done(engine) == 2)
    mounts = ("/dev/sda1 / ext4 rw 0 0\n"
              "srv:/paie /mnt/ged nfs4 rw 0 0\n"
              "//srv/ged /mnt/smb cifs rw 0 0\n")
    assert on_network_share(Path("/mnt/ged/inbox"), mounts)
    assert on_network_share(Path("/mnt/smb"), mounts)
    assert not on_network_share(Path("/mnt/gedx"), mounts)
    assert not on_network_share(Path("/home/paie/inbox"), mounts)


def test_a_stop_signal_caught_inside_a_flow_stops_the_watcher(settings) -> None:
    """SIGTERM during a flow run comes back as another error: the watcher stops, as asked."""
    from gedflow.watch import Watcher

    class TerminationSignal(Exception):  # noqa: N818 (the orchestrator's name)
        pass

    def sweep():
        try:
            raise TerminationSignal(15)
        except TerminationSignal:
            raise ValueError("Task run is not set") from None

    watcher = Watcher(settings, sweep)
    with pytest.raises(KeyboardInterrupt):
        watcher._safe_sweep()
    assert watcher.heartbeat.errors == 0
