"""The `gedflow` command line, in-process (Prefect harness) and as a fresh subprocess."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app, create_folders
from gedflow.db.engine import migrate
from gedflow.db.reading import HEAD, hide_password, reading, rows
from gedflow.procs import pid_alive
from gedflow.settings import INBOX_FOLDERS, OUTBOX_FOLDERS, Settings, load_settings

from .conftest import EXAMPLES
from .pg import free_port

runner = CliRunner()
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
CLEAR_NIRS = ("285037511203464", "179016912304503", "292013308101229")


def _drop_examples(settings: Settings) -> None:
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        shutil.copy(EXAMPLES / "registre" / name, settings.inbox / "registre" / name)


class _Result:
    """CLI result with its output re-flowed (rich wraps at 80 columns off a terminal)."""

    def __init__(self, raw) -> None:
        self.exit_code = raw.exit_code
        self.output = " ".join(raw.output.split())
        self.exception = raw.exception


def _cli(settings: Settings, *args: str) -> _Result:
    return _Result(runner.invoke(app, [*args, "--root", str(settings.root)]))


def test_create_folders_is_idempotent(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    create_folders(settings)
    create_folders(settings)
    for rel in INBOX_FOLDERS:
        assert (tmp_path / "inbox" / rel).is_dir()
    for rel in OUTBOX_FOLDERS:
        assert (tmp_path / "outbox" / rel).is_dir()
    for private in (settings.state_dir, settings.gnupg_home):
        assert (private.stat().st_mode & 0o777) == 0o700


@SQLITE_ONLY
@pytest.mark.usefixtures("prefect_server")
def test_run_processes_the_inbox(settings: Settings) -> None:
    _drop_examples(settings)
    (settings.inbox / "registre/.employeurs.csv.part").write_text("en cours")
    result = _cli(settings, "run")
    assert result.exit_code == 0, result.output
    assert result.output.count("archived") == 2
    assert (settings.inbox / "registre/.employeurs.csv.part").exists()  # a writer's temp file
    assert (settings.archive / "registre/salaries_exemple.import.csv").exists()
    assert not any(nir in result.output for nir in CLEAR_NIRS)


@SQLITE_ONLY
@pytest.mark.usefixtures("prefect_server")
def test_run_exits_1_on_quarantine_and_waits_for_settling_files(settings: Settings) -> None:
    (settings.root / "gedflow.toml").write_text(
        (settings.root / "gedflow.toml").read_text().replace("settle_seconds = 0",
                                                             "settle_seconds = 1.5"))
    (settings.inbox / "stray.txt").write_text("?")
    fresh = settings.inbox / "registre/employeurs_exemple.csv"
    shutil.copy(EXAMPLES / "registre/employeurs_exemple.csv", fresh)
    os.utime(fresh, (time.time(), time.time()))
    result = _cli(settings, "run")
    assert result.exit_code == 1, result.output
    assert "quarantined" in result.output and "archived" in result.output
    assert (settings.quarantine / "stray.txt.reason.txt").read_text().startswith(
        "Problème : fichier déposé hors des dossiers surveillés")


@SQLITE_ONLY
def test_run_on_an_empty_inbox(settings: Settings) -> None:
    result = _cli(settings, "run")
    assert result.exit_code == 0 and "inbox vide" in result.output


@SQLITE_ONLY
@pytest.mark.usefixtures("prefect_server")
def test_transfer_and_registry_show(settings: Settings) -> None:
    _drop_examples(settings)
    assert _cli(settings, "run").exit_code == 0
    dry = _cli(settings, "transfer", "--from", "ASSO-TILLEULS", "--to", "COPIE", "--all",
               "--create", "--dry-run")
    assert dry.exit_code == 0 and "rien n'a été modifié" in dry.output
    assert "salariés copiés : 4" in dry.output
    missing = _cli(settings, "transfer", "--from", "ASSO-TILLEULS", "--to", "COPIE", "--all")
    assert missing.exit_code == 2 and "--create" in missing.output
    done = _cli(settings, "transfer", "--from", "ASSO-TILLEULS", "--to", "COPIE",
                "--salarie", "81234567600017:A001", "--create")
    assert done.exit_code == 0 and "dossier COPIE créé" in done.output
    shown = _cli(settings, "registry", "show")
    assert "ASSO-TILLEULS" in shown.output and "COPIE" in shown.output
    detail = _cli(settings, "registry", "show", "--dossier", "ASSO-TILLEULS")
    assert "28503*" in detail.output and "7.50" in detail.output
    assert not any(nir in detail.output for nir in CLEAR_NIRS)
    bad = _cli(settings, "transfer", "--from", "A", "--to", "B", "--salarie", "nocolon")
    assert bad.exit_code == 2


@pytest.mark.slow
def test_fresh_root_init_then_run_as_a_user_would(tmp_path: Path) -> None:
    """`gedflow init` + `gedflow run` in a new root, Prefect on its own (no harness): the first
    run starts the local server in the background, the second finds it, `server stop` ends it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GEDFLOW_"))}
    env.update(GEDFLOW_ROOT=str(tmp_path), GEDFLOW_SETTLE_SECONDS="0",
               GEDFLOW_SERVICE_PORT=str(free_port()))
    gedflow = [sys.executable, "-m", "flows.cli"]
    cwd = Path(__file__).resolve().parent.parent

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*gedflow, *args], env=env, cwd=cwd, capture_output=True,
                              text=True, timeout=600)

    init = cli("init")
    assert init.returncode == 0, init.stderr
    try:
        for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
            shutil.copy(EXAMPLES / "registre" / name, tmp_path / "inbox/registre" / name)
        run = cli("run")
        assert run.returncode == 0, run.stdout + run.stderr
        assert (tmp_path / "outbox/archive/registre/salaries_exemple.import.csv").exists()
        assert (tmp_path / ".gedflow/prefect/prefect.db").exists()
        assert "Error" not in run.stderr, run.stderr  # Prefect's events and logs were delivered
        assert not any(nir in run.stdout + run.stderr for nir in CLEAR_NIRS)
        pid = (tmp_path / ".gedflow/prefect-server.pid").read_text()
        _wait_for(tmp_path / ".gedflow/runner.sock")  # the runner the first run started
        employeurs = (EXAMPLES / "registre/employeurs_exemple.csv").read_bytes()
        (tmp_path / "inbox/registre/employeurs_encore.csv").write_bytes(employeurs + b"\n")
        again = cli("run")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "employeurs_encore.csv" in again.stdout and "archived" in again.stdout
        assert (tmp_path / "outbox/archive/registre/employeurs_encore.import.csv").exists()
        assert (tmp_path / ".gedflow/prefect-server.pid").read_text() == pid  # reused, warm
        log = (tmp_path / ".gedflow/logs/runner.log").read_text()
        assert log.count("run: 1 file(s)") == 1, log  # the second run was the runner's
        runner = int((tmp_path / ".gedflow/runner.pid").read_text())
        env["GEDFLOW_SETTLE_SECONDS"] = "0.0"  # another environment: the runner steps aside
        (tmp_path / "inbox/registre/employeurs_autre.csv").write_bytes(employeurs + b"\n\n")
        other = cli("run")
        assert other.returncode == 0 and "employeurs_autre.csv" in other.stdout, other.stdout
        _wait_for_exit(runner)
        assert (tmp_path / ".gedflow/logs/runner.log").read_text().count("run: ") == 1
        deadline = time.monotonic() + 60  # the new runner, started meanwhile, stopped below
        while (tmp_path / ".gedflow/runner.pid").read_text() == str(runner):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        stopped = cli("server", "stop")
    assert stopped.returncode == 0 and "arrêté" in stopped.stdout
    assert not (tmp_path / ".gedflow/prefect-server.pid").exists()
    assert not (tmp_path / ".gedflow/runner.sock").exists()


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never came"
        time.sleep(0.1)


def _wait_for_exit(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still running"
        time.sleep(0.1)


def test_run_goes_on_its_own_without_an_answering_runner(settings: Settings) -> None:
    """No runner, or a socket left by one that died: `ask` says so, the run is done here."""
    from flows import runner

    assert runner.ask(settings, None) is None
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(settings.state_dir / "runner.sock"))  # bound, never listening
    assert runner.ask(settings, None) is None


@SQLITE_ONLY
@pytest.mark.usefixtures("prefect_server")
def test_crm_via_run_with_availability_then_rates_on_a_date(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEDFLOW_CRM_DISPONIBILITE", raising=False)
    _drop_examples(settings)
    assert _cli(settings, "run").exit_code == 0
    target = settings.inbox / "crm_nominatif/travail/2022/2022_08"
    target.mkdir(parents=True)
    shutil.copy(EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml", target)
    result = _cli(settings, "run", "--disponibilite", "13/08/2022")
    assert result.exit_code == 0, result.output
    assert "GEDFLOW_CRM_DISPONIBILITE" not in os.environ  # a flow parameter, not the environment
    csv = settings.outbox / "crm_nominatif/2022_08/crm_2022_07.rapprochement.csv"
    assert "modifie;2022-08-13;2022-10-31" in csv.read_text()
    rates = _cli(settings, "crm", "taux", "--siret", "81234567600017", "--date", "20/10/2022")
    assert rates.exit_code == 0
    assert "5.10" in rates.output and "expire bientôt" in rates.output
    unknown = _cli(settings, "crm", "taux", "--siret", "11111111111111")
    assert unknown.exit_code == 2


@SQLITE_ONLY
@pytest.mark.usefixtures("prefect_server")
def test_dpae_from_the_inbox_then_from_the_registry(settings: Settings, urssaf_keys) -> None:
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + 'dpae_maintenant = "2025-03-03T10:15"\n')
    _drop_examples(settings)
    assert _cli(settings, "run").exit_code == 0
    shutil.copy(EXAMPLES / "dpae/embauches_exemple.csv", settings.inbox / "dpae")
    (settings.inbox / "dpae/notes.txt").write_text("pas un csv")
    result = _cli(settings, "run")
    assert result.exit_code == 1  # notes.txt went to quarantine
    [folder] = (settings.outbox / "dpae").iterdir()
    assert (folder / "preparation.csv").read_text().splitlines() == [
        "ligne;siret;matricule;nom;champ;code;gravite;message"]
    assert len((folder / "dpae.txt").read_bytes()) == 2 * 990
    prepared = _cli(settings, "dpae", "prepare", "--dossier", "ATELIERS-DUPRE",
                    "--maintenant", "2025-03-03T10:15")
    assert prepared.exit_code == 0, prepared.output
    assert "mode test" in prepared.output and "dpae.txt" in prepared.output
    late = _cli(settings, "dpae", "build", "--dossier", "ATELIERS-DUPRE", "--mode", "reel",
                "--maintenant", "2025-03-10T09:00")
    assert late.exit_code == 1 and "DELAI_DEPASSE" in late.output, late.exception
    assert "aucun fichier construit" in late.output
    keyless = _cli(settings, "dpae", "build", "--dossier", "ATELIERS-DUPRE", "--mode", "reel",
                   "--maintenant", "2025-03-03T10:15")
    assert "aucune clé de chiffrement" in keyless.output
    key_file = settings.root / "urssaf_test.asc"
    key_file.write_bytes(urssaf_keys["test"].public)
    imported = _cli(settings, "keys", "import", str(key_file), "--dossier", "ATELIERS-DUPRE")
    assert imported.exit_code == 0 and urssaf_keys["test"].fingerprint in imported.output
    listed = _cli(settings, "keys", "list")
    assert "ATELIERS-DUPRE (test)" in listed.output and "valide" in listed.output
    phase = _cli(settings, "dpae", "phase", "--dossier", "ATELIERS-DUPRE")
    assert "etape_4" in phase.output and "test de chiffrement" in phase.output
    built = _cli(settings, "dpae", "build", "--dossier", "ATELIERS-DUPRE", "--mode", "reel",
                 "--maintenant", "2025-03-03T10:15", "--format", "both")
    assert built.exit_code == 0 and "prête(s) à envoyer" in built.output, built.output
    assert "dpae.txt.gpg" in built.output
    again = _cli(settings, "dpae", "prepare", "--dossier", "ATELIERS-DUPRE")
    assert "aucun contrat à déclarer" in again.output


@SQLITE_ONLY
@pytest.mark.usefixtures("prefect_server")
def test_everything_dropped_at_once_is_taken_registry_first(settings: Settings) -> None:
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + 'dpae_maintenant = "2025-03-03T10:15"\n'
                    'crm_disponibilite = "2022-08-13"\n')
    _drop_examples(settings)
    shutil.copytree(EXAMPLES / "crm_nominatif", settings.inbox / "crm_nominatif",
                    dirs_exist_ok=True)
    shutil.copy(EXAMPLES / "dpae/embauches_exemple.csv", settings.inbox / "dpae")
    assert _cli(settings, "run").exit_code == 0
    crm = (settings.outbox / "crm_nominatif/2022_08/crm_2022_07.rapprochement.csv").read_text()
    assert "inconnu_registre" not in crm and ";modifie;" in crm
    [folder] = (settings.outbox / "dpae").iterdir()
    assert len((folder / "preparation.csv").read_text().splitlines()) == 1  # no issue


@SQLITE_ONLY
def test_status_says_what_runs_and_what_waits(settings: Settings) -> None:
    """No server, a watcher whose last heartbeat is old (its process gone), files waiting."""
    import json
    import socket

    from gedflow.heartbeat import Heartbeat, heartbeat_path

    toml = settings.root / "gedflow.toml"  # a port where no Prefect server answers
    toml.write_text(toml.read_text() + f"[service]\nport = {free_port()}\n")
    fresh = _cli(settings, "status")
    assert fresh.exit_code == 0, fresh.output
    assert "✗ Prefect : aucun serveur" in fresh.output
    assert "✗ watcher : jamais démarré" in fresh.output
    assert "inbox : 0 fichier(s) en attente (vide)" in fresh.output
    assert "DPAE : 0 sans AR" in fresh.output and "taux PAS : 0 expiré(s)" in fresh.output
    assert "Net-Entreprises : en ligne" in fresh.output
    assert "aucun identifiant Net-Entreprises : gedflow credentials set" in fresh.output
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    beat = Heartbeat(pid=dead.pid, host=socket.gethostname(), observer="inotify",
                     started_at="2026-01-05T08:00:00+00:00", beat_at="2026-01-05T09:00:00+00:00",
                     sweeps=12, files=3, errors=1, last_error="OperationalError: locked",
                     period_seconds=30.0)
    heartbeat_path(settings).write_text(json.dumps(beat.__dict__))
    (settings.inbox / "registre" / "employeurs_x.csv").write_text("x\n")
    later = _cli(settings, "status")
    assert "✗ watcher : arrêté" in later.output and "12 balayages" in later.output
    assert "1 balayage(s) en erreur ; dernier : OperationalError: locked" in later.output
    assert "inbox : 1 fichier(s) en attente (registre 1)" in later.output
    from gedflow.portal import offline
    from gedflow.portal.credentials import CredentialStore

    from .portal_support import ACCOUNT

    CredentialStore(settings).save("administrateur", ACCOUNT)
    offline.turn_on(settings)
    last = _cli(settings, "status")
    assert "⚠ mode assistance actif" in last.output
    assert "administrateur : aucune récupération de CRM" in last.output
    assert "processus de fond" not in last.output  # none started


def test_status_shows_the_background_runner_while_it_runs(settings: Settings) -> None:
    """Its pidfile naming a live process started before it; a dead or reused pid: nothing."""
    pidfile = settings.state_dir / "runner.pid"
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(str(os.getpid()))
    shown = _cli(settings, "status")
    assert f"• processus de fond de gedflow run : actif (pid {os.getpid()} ;" in shown.output
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pidfile.write_text(str(dead.pid))
    assert "processus de fond" not in _cli(settings, "status").output
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:  # a live process started after the pidfile was written: not the runner
        pidfile.write_text(str(later.pid))
        os.utime(pidfile, (time.time() - 60, time.time() - 60))
        assert "processus de fond" not in _cli(settings, "status").output
    finally:
        later.kill()
        later.wait()


_IMPORTED = ("import sys\nfrom flows.cli import app\ntry:\n    app({args!r})\nexcept SystemExit:\n"
             "    pass\nprint(sorted(m for m in {modules!r} if m in sys.modules))")


def _modules_after(args: list[str], modules: tuple[str, ...]) -> list[str]:
    """The heavy modules a command imported, run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _IMPORTED.format(args=args, modules=modules)],
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    return eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - a list we printed


def test_help_imports_neither_pandas_sqlalchemy_nor_prefect() -> None:
    assert _modules_after(["--help"], ("pandas", "sqlalchemy", "prefect", "alembic")) == []


@pytest.mark.parametrize("args", [
    ["status"], ["registry", "show"], ["crm", "taux", "--siret", "81234567600017"],
    ["dpae", "phase", "--dossier", "ASSO-TILLEULS"], ["dpae", "suivi"], ["keys", "list"],
    ["credentials", "list"], ["offline", "status"],
])
def test_read_only_commands_import_no_prefect_alembic_sqlalchemy_nor_pandas(
        settings: Settings, args: list[str]) -> None:
    migrate(settings.registry_url)  # a registry at the head: nothing to migrate
    heavy = ("prefect", "alembic", "sqlalchemy", "pandas", "numpy")
    assert _modules_after([*args, "--root", str(settings.root)], heavy) == []


def test_a_read_only_command_on_a_new_registry_creates_it(tmp_path: Path) -> None:
    """The driver's path finds no schema: it migrates first, then reads."""
    settings = load_settings(tmp_path)
    done = _cli(settings, "registry", "show")
    assert done.exit_code == 0, done.output
    assert "Dossiers" in done.output
    with reading(settings.registry_url) as conn:
        assert rows(conn, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_the_registry_url_is_shown_without_its_password() -> None:
    url = "postgresql+psycopg://paie:s3cr%40t@db.example:5432/gedflow?sslmode=verify-full"
    assert hide_password(url) == url.replace("s3cr%40t", "***")
    assert hide_password("sqlite:////srv/registre.db") == "sqlite:////srv/registre.db"


@pytest.mark.parametrize("args", [
    ["registry", "show"], ["crm", "taux", "--siret", "81234567600017"],
    ["dpae", "phase", "--dossier", "ASSO-TILLEULS"], ["dpae", "suivi"], ["keys", "list"],
])
def test_a_registry_that_does_not_answer_is_said_plainly(tmp_path: Path, args: list[str]) -> None:
    """A PostgreSQL registry down: one line saying where (no password) and why, code 2;
    `status` still shows the rest."""
    (tmp_path / "gedflow.toml").write_text(
        f'[gedflow]\ndatabase_url = "postgresql://paie:s3cret@127.0.0.1:{free_port()}/gedflow"\n',
        encoding="utf-8")
    settings = load_settings(tmp_path)
    done = _cli(settings, *args)
    assert done.exit_code == 2, done.output
    assert "registre injoignable (postgresql://paie:***@127.0.0.1" in done.output
    assert "s3cret" not in done.output and "Traceback" not in done.output
    status = _cli(settings, "status")
    assert status.exit_code == 0, status.output
    assert "✗ registre injoignable" in status.output and "• inbox" in status.output
