"""The service keeps working when Prefect, the registry database or the disk fail, and says
so without Prefect (alert log, e-mail once when an incident starts and once when it ends)."""

from __future__ import annotations

import asyncio
import errno
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from flows import pending
from gedflow import health
from gedflow.crm.handler import handle_crm
from gedflow.db.tables import crm_declaration, ledger
from gedflow.errors import StorageError
from gedflow.inbox import scan
from gedflow.intake import claim, process
from gedflow.settings import Settings, load_settings
from gedflow.watch import Watcher

from .pg import free_port
from .test_crm import _crm, _p, drop

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _alerting(settings: Settings, port: int) -> Settings:
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() +
                    '\n[service]\nalerte_email = "ops@office.example"\n'
                    f'\n[mail]\nsmtp_hote = "127.0.0.1"\nsmtp_port = {port}\n')
    return load_settings(settings.root)


def _drop_crms(settings: Settings, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        drop(settings, f"crm_nominatif/travail/2022_09/c{n}.xml",
             _crm(_p("2850375112034", f"{n + 1}.00"), identifiant=f"91{n:016d}"))


def _subjects(inbox) -> list[str]:
    return [m["Subject"] for m in inbox.messages]


@SQLITE
@pytest.mark.usefixtures("prefect_server")
def test_files_go_on_while_prefect_is_away(seeded: Settings, engine: Engine,
                                           smtp_server) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.service import inbox_sweep

    port, inbox = smtp_server
    settings = _alerting(seeded, port)
    _drop_crms(settings, 3)
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        first = inbox_sweep(settings)
        _drop_crms(settings, 2, first=3)
        second = inbox_sweep(settings)
    assert (first.done, second.done) == (3, 2)  # processed while the server was away
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crm_declaration)).scalar() == 5
        assert set(conn.execute(select(ledger.c.outcome)).scalars()) == {"archived"}
    assert _subjects(inbox) == ["gedflow : service dégradé (prefect)"]  # said once
    assert "serveur Prefect injoignable" in health.alert_log(settings).read_text()
    assert len(pending.waiting(settings)) == 2 and "prefect" in health.open_incidents(settings)

    inbox_sweep(settings)  # the server is back (the harness)
    assert pending.waiting(settings) == [] and health.open_incidents(settings) == {}
    assert _subjects(inbox) == ["gedflow : service dégradé (prefect)",
                                "gedflow : rétabli (prefect)"]
    with get_client(sync_client=True) as client:
        published = {a.key for a in client.read_artifacts(limit=200)}
    assert {"crm-fichiers", "crm-81234567600017-2022-09"} <= published


@SQLITE
def test_a_full_disk_leaves_the_file_to_process_and_is_alerted(
        seeded: Settings, engine: Engine, smtp_server, monkeypatch) -> None:
    import gedflow.fsutil

    port, inbox = smtp_server
    settings = _alerting(seeded, port)
    _drop_crms(settings, 1)
    real = gedflow.fsutil.atomic_write_with

    def full(path: Path, *args, **kwargs):
        if "outbox" in path.parts:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(gedflow.fsutil, "atomic_write_with", full)
    claims = [c for p in scan(settings) if (c := claim(settings, engine, p))]

    def sweep():
        for c in claims:
            process(settings, engine, c, handle_crm)
        raise AssertionError("unreachable")

    watcher = Watcher(settings, sweep)
    watcher._safe_sweep()
    with engine.connect() as conn:
        assert conn.execute(select(ledger.c.state, ledger.c.outcome)).one() == ("claimed", None)
        assert conn.execute(select(func.count()).select_from(crm_declaration)).scalar() == 0
    assert not list(settings.archive.rglob("*.xml")) and claims[0].path.exists()
    assert _subjects(inbox) == ["gedflow : service dégradé (disque)"]
    with pytest.raises(StorageError, match="laissé à traiter"):
        process(settings, engine, claims[0], handle_crm)

    monkeypatch.setattr(gedflow.fsutil, "atomic_write_with", real)  # room again
    outcome = process(settings, engine, claims[0], handle_crm)
    assert outcome.outcome == "archived" and outcome.report_path.exists()
    assert outcome.summary["81234567600017"] == "integre"  # integrated once, now


@SQLITE
def test_sweeps_failing_in_a_row_are_an_incident(seeded: Settings, smtp_server) -> None:
    port, inbox = smtp_server
    settings = _alerting(seeded, port)
    outcomes = iter([RuntimeError("base"), RuntimeError("base"), RuntimeError("base"), None])

    def sweep():
        failure = next(outcomes)
        if failure:
            raise failure
        from gedflow.watch import SweepResult
        return SweepResult(0, 0)

    watcher = Watcher(settings, sweep)
    for _ in range(4):
        watcher._safe_sweep()
    assert _subjects(inbox) == ["gedflow : service dégradé (balayages)",
                                "gedflow : rétabli (balayages)"]
    assert watcher.heartbeat.errors == 3


@pytest.mark.postgres
def test_registry_database_restarted_mid_run(tmp_path: Path, monkeypatch) -> None:
    """PostgreSQL stopped after two of five files: those two archived, the others left claimed
    (none quarantined, none half-done), the outage an incident; started again, the rest goes
    through by itself and each CRM is integrated once."""
    import os

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.service import inbox_sweep
    from gedflow.db.engine import engine_for, migrate
    from gedflow.registry.importer import import_csv
    from tasks import intake as tasks_intake

    from .conftest import EXAMPLES, PgCluster, _new_pg_database

    if os.environ.get("GEDFLOW_SKIP_POSTGRES") == "1":
        pytest.skip("GEDFLOW_SKIP_POSTGRES=1")
    cluster = PgCluster()
    cluster.start()
    try:
        url = _new_pg_database(cluster.url)
        root = tmp_path / "root"
        (root / "inbox/crm_nominatif/travail").mkdir(parents=True)
        (root / "gedflow.toml").write_text(
            f'[gedflow]\ndatabase_url = "{url}"\nsettle_seconds = 0\n'
            'crm_disponibilite = "2022-09-13"\n')
        settings = load_settings(root)
        engine = migrate(url)
        for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
            import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
        _drop_crms(settings, 5)
        calls = []

        def stops_after_two(job):
            if len(calls) == 2:
                cluster.stop()
            calls.append(job.claim.rel)
            return handle_crm(job)

        monkeypatch.setitem(tasks_intake.HANDLERS, "crm", stops_after_two)
        with temporary_settings(updates={PREFECT_API_URL: ""}):
            watcher = Watcher(settings, lambda: inbox_sweep(settings))
            watcher._safe_sweep()  # fails on the third file
            assert "base" in health.open_incidents(settings)
            assert len(list(settings.archive.rglob("*.xml"))) == 2
            assert not settings.quarantine.exists() or not list(settings.quarantine.rglob("*"))
            assert len(list(settings.processing.rglob("*.xml"))) == 3
            cluster.start()
            watcher._safe_sweep()  # by itself, once the database is back
        assert "base" not in health.open_incidents(settings)  # (no Prefect here: its own)
        assert len(list(settings.archive.rglob("*.xml"))) == 5
        with engine_for(url).connect() as conn:
            assert conn.execute(select(func.count()).select_from(crm_declaration)).scalar() == 5
            assert set(conn.execute(select(ledger.c.state)).scalars()) == {"done"}
        engine_for(url).dispose()
    finally:
        cluster.remove()


class _Runner:
    """Stands for Prefect's runner: the first gives up as Prefect's does after three failed
    polls (its RuntimeError), the next serves until stopped."""

    def __init__(self, gives_up: bool) -> None:
        self.gives_up, self.started = gives_up, False
        self._stopped: asyncio.Event | None = None

    async def start(self) -> None:
        self.started = True
        if self.gives_up:
            raise RuntimeError("Service exceeded error threshold.")
        self._stopped = asyncio.Event()
        await self._stopped.wait()

    async def astop(self) -> None:
        assert self._stopped is not None
        self._stopped.set()


def test_the_deployments_are_served_again_after_prefect_was_away(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's runner stops for good when its server stays away: the service waits for the
    API to answer again, then serves the deployments with a new runner."""
    import flows.service

    answers = iter([False, False, True])
    monkeypatch.setattr(flows.service, "prefect_up", lambda: next(answers, True))
    made: list[_Runner] = []

    def make() -> _Runner:
        made.append(_Runner(gives_up=not made))
        return made[-1]

    served = flows.service.ServedDeployments(load_settings(tmp_path), make_runner=make,
                                             retry=0.01)
    served.start()
    deadline = time.monotonic() + 10
    while not (len(made) == 2 and made[1].started) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(made) == 2 and made[1].started and served.restarts == 1
    assert next(answers, "all asked") == "all asked"  # it waited for the API to answer
    served.stop(timeout=5)
    assert not served.is_alive()
