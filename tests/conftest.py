"""Shared fixtures: a throwaway PostgreSQL server, registry URLs for both back ends, a temporary
gedflow root, and one session-wide Prefect test harness.

Prefect's environment is set before anything imports prefect: a temporary PREFECT_HOME, never the
user's own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="gedflow-test-prefect-")
os.environ.update(
    PREFECT_HOME=_PREFECT_HOME,
    PREFECT_API_URL="",
    DO_NOT_TRACK="1",
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_LOGGING_LEVEL="WARNING",
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
)
for _name in [n for n in os.environ if n.startswith("GEDFLOW_") and n != "GEDFLOW_SKIP_POSTGRES"]:
    del os.environ[_name]
# In-process `gedflow run`s (the harness's server); the runner's own tests turn it on.
os.environ["GEDFLOW_SERVICE_PROCESSUS_DE_FOND"] = "false"

import email  # noqa: E402
from email import policy  # noqa: E402

import pytest  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import Engine, create_engine, text, update  # noqa: E402

from gedflow.db.engine import engine_for, migrate  # noqa: E402
from gedflow.db.tables import dossier  # noqa: E402
from gedflow.registry.importer import import_csv  # noqa: E402
from gedflow.settings import INBOX_FOLDERS, OUTBOX_FOLDERS, Settings, load_settings  # noqa: E402

from .pg import PgCluster  # noqa: E402

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "examples"


pytest_plugins = ["pytester"]


class _Everything(logging.Handler):
    """Every log line of the session, for the leak scan (tests/leaks.py)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")


LOG_LINES = _Everything()
PREFECT_TEXTS: list[str] = []  # what the session's Prefect harness held, read before it stops


def _stop_leftover_agents(base: Path) -> int:
    """The gpg-agents the tests' GnuPG homes (under the session's temporary folder) started:
    stopped, so that the suite leaves no process behind. Returns how many."""
    import psutil

    stopped = 0
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "gpg-agent" and any(str(base) in arg for arg in cmdline):
            with contextlib.suppress(psutil.Error):
                proc.terminate()
                stopped += 1
    return stopped


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The leak scan (tests/leaks.py) over the whole session, whatever ran: a leak fails it;
    then no gpg-agent of the tests is left running."""
    from .leaks import scan

    factory = getattr(session.config, "_tmp_path_factory", None)
    base = factory.getbasetemp() if factory is not None else None
    if base is not None:
        _stop_leftover_agents(base)
    found = scan(LOG_LINES.lines, PREFECT_TEXTS, base)
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for where, hits in found.items():
            line = f"fuite de données personnelles ou de secrets : {where} : {', '.join(hits)}"
            if reporter is not None:
                reporter.write_line(line, red=True)
            else:
                print(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _log_everything() -> None:
    """Keep the capture on the root logger (Prefect's logging setup replaces its handlers)."""
    root = logging.getLogger()
    if LOG_LINES not in root.handlers:
        root.addHandler(LOG_LINES)
    for name in ("gedflow", "flows", "tasks"):
        logging.getLogger(name).setLevel(logging.DEBUG)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PgCluster]:
    """The session's PostgreSQL cluster, TLS on (GEDFLOW_SKIP_POSTGRES=1 skips what needs
    it)."""
    if os.environ.get("GEDFLOW_SKIP_POSTGRES") == "1":
        pytest.skip("GEDFLOW_SKIP_POSTGRES=1")
    cluster = PgCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def postgres_server(postgres_cluster: PgCluster) -> str:
    """The session's PostgreSQL server URL (no database)."""
    return postgres_cluster.url


def _new_pg_database(server: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated registry: SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    else:
        url = _new_pg_database(request.getfixturevalue("postgres_server"))
    migrate(url)
    yield url
    engine_for(url).dispose()


@pytest.fixture
def engine(db_url: str):
    return engine_for(db_url)


def kill_gpg_agent(home: Path) -> None:
    """Each GnuPG home leaves a gpg-agent behind."""
    if home.exists():
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, check=False)


@dataclass(frozen=True)
class RecipientKey:
    """A throwaway recipient ("URSSAF") key pair: its public key file and private home."""

    home: Path
    fingerprint: str
    public: bytes


def _new_key(home: Path, name: str, expire: str = "0") -> RecipientKey:
    import gnupg

    home.mkdir(mode=0o700, parents=True)
    gpg = gnupg.GPG(gnupghome=str(home))
    spec = gpg.gen_key_input(key_type="RSA", key_length=2048, name_real=name,
                             name_email="dpae@urssaf.example", expire_date=expire,
                             no_protection=True)
    fingerprint = str(gpg.gen_key(spec))
    assert fingerprint, "gpg could not generate a test key"
    return RecipientKey(home, fingerprint, gpg.export_keys(fingerprint).encode())


@pytest.fixture(scope="session")
def urssaf_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RecipientKey]]:
    """Test, definitive and short-lived recipient keys, each in its own GnuPG home."""
    base = tmp_path_factory.mktemp("urssaf-keys")
    keys = {name: _new_key(base / name, f"URSSAF {name}", expire)
            for name, expire in (("test", "0"), ("definitive", "0"), ("short", "1d"))}
    yield keys
    for key in keys.values():
        kill_gpg_agent(key.home)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Iterator[Settings]:
    """A gedflow root in a temporary folder, with its GED folders, on the registry `db_url`."""
    root = tmp_path / "root"
    for rel in INBOX_FOLDERS:
        (root / "inbox" / rel).mkdir(parents=True)
    for rel in OUTBOX_FOLDERS:
        (root / "outbox" / rel).mkdir(parents=True)
    (root / "gedflow.toml").write_text(
        f'[gedflow]\ndatabase_url = "{db_url}"\nsettle_seconds = 0\nmax_wait_seconds = 5\n'
    )
    loaded = load_settings(root)
    yield loaded
    kill_gpg_agent(loaded.gnupg_home)


@pytest.fixture
def seeded(settings: Settings, engine: Engine) -> Settings:
    """The registry of spec §8 (the README's registre examples) and a fixed availability date."""
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + 'crm_disponibilite = "2022-08-13"\n')
    return settings.__class__(**{**settings.__dict__, "crm_disponibilite": "2022-08-13"})


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One Prefect test harness for the whole session (starting it costs ~20 s here)."""
    from prefect import settings as ps
    from prefect.testing.utilities import prefect_test_harness

    from .leaks import prefect_texts

    with prefect_test_harness(server_startup_timeout=180):
        with ps.temporary_settings(updates={ps.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
            PREFECT_TEXTS.extend(prefect_texts())


@pytest.fixture
def registry(engine) -> object:
    """The example registry; ATELIERS-DUPRE in production."""
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    with engine.begin() as conn:
        conn.execute(update(dossier).where(dossier.c.code == "ATELIERS-DUPRE")
                     .values(phase="production"))
    return engine
