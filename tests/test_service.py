"""End to end: `gedflow serve` (its own real Prefect server, the scheduled deployments and the
watcher) in a temporary root; files dropped as a user would; results read in the outbox, the
ledger and the Prefect API. Then a burst of 5,000 files, and a kill -9 mid-batch."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from flows.server import stop_background_server
from gedflow.db.engine import migrate
from gedflow.db.tables import ledger
from gedflow.heartbeat import read_heartbeat
from gedflow.settings import Settings, load_settings

from .conftest import EXAMPLES
from .pg import free_port
from .test_dpae_ar import _ar

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parent.parent
EMPLOYEURS = (EXAMPLES / "registre/employeurs_exemple.csv").read_text(encoding="utf-8")
DEAD_ENDPOINTS = "".join(
    f'{api}_{what} = "http://127.0.0.1:9/{what}/{{debut}}/{{fin}}"\n'
    for api in ("dsn", "dpae") for what in ("authentification", "depot", "retours"))


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


class Service:
    """`gedflow serve` as a child process, as `make run` starts it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = load_settings(root)
        self.proc: subprocess.Popen | None = None
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("PREFECT_", "GEDFLOW_"))}
        self.env["GEDFLOW_ROOT"] = str(root)

    def start(self) -> None:
        log = (self.root / "serve.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve"], env=self.env,
                                     cwd=CHECKOUT, stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def beating() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log()
            beat = read_heartbeat(self.settings)
            return beat is not None and beat.pid == self.proc.pid and bool(beat.beat_at)

        _wait(beating, 300, "the service to start")

    def log(self) -> str:
        return (self.root / "serve.log").read_text(errors="replace")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=120)

    def ledger_counts(self) -> dict[str, int]:
        engine = migrate(self.settings.registry_url)
        with engine.connect() as conn:
            rows = conn.execute(select(ledger.c.state, ledger.c.outcome, func.count())
                                .group_by(ledger.c.state, ledger.c.outcome)).all()
        return {f"{state}:{outcome}": n for state, outcome, n in rows}

    def done(self) -> int:
        return sum(n for key, n in self.ledger_counts().items() if key.startswith("done:"))

    def api(self, path: str, body: dict) -> list[dict]:
        answer = httpx.post(f"{self.settings.api_url}/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("service")
    (root / "gedflow.toml").write_text(
        "[gedflow]\nsettle_seconds = 0.5\ndpae_maintenant = \"2025-03-03T10:15\"\n"
        f"[service]\nport = {free_port()}\nbalayage_secondes = 5\n"
        # Net-Entreprises: a dead local port (nothing in tests reaches the internet).
        f'[connexion]\ndelai = 2\nessais = 1\n{DEAD_ENDPOINTS}', encoding="utf-8")
    svc = Service(root)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()
        stop_background_server(svc.settings)  # the server a kill -9 left behind, if any


def _drop(settings: Settings, rel: str, data: bytes) -> None:
    """Written beside, then renamed in: the file appears whole, as a careful copier does."""
    target = settings.inbox / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = settings.root / "staging" / rel
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_bytes(data)
    staging.rename(target)


def test_drop_a_registry_a_crm_hires_and_an_ar(service: Service) -> None:
    settings = service.settings
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        _drop(settings, f"registre/{name}", (EXAMPLES / "registre" / name).read_bytes())
    _wait(lambda: service.done() == 2, 120, "the registry")
    crm = "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml"
    _drop(settings, crm, (EXAMPLES / crm).read_bytes())
    _drop(settings, "dpae/embauches_exemple.csv",
          (EXAMPLES / "dpae/embauches_exemple.csv").read_bytes())
    _wait(lambda: service.done() == 4, 120, "the CRM and the hires")
    assert service.ledger_counts() == {"done:archived": 4}, service.log()
    assert (settings.outbox / "crm_nominatif/2022_08/crm_2022_07.rapprochement.csv").exists()
    [built] = list((settings.outbox / "dpae").glob("*/dpae.txt"))
    ar = _ar(built.read_bytes(), [("00", "K7Q2M", "00"), ("00", "", "21")])
    _drop(settings, "AR/dpae.txt", ("\n".join(ar) + "\n").encode("iso-8859-1"))
    _wait(lambda: service.done() == 5, 120, "the AR")
    assert service.ledger_counts() == {"done:archived": 5}, service.log()
    [report] = list((settings.outbox / "AR").glob("*/compte_rendu.csv"))
    assert ";enregistree;K7Q2M;00" in report.read_text(encoding="utf-8")

    def runs() -> dict[str, str]:
        found = service.api("flow_runs/filter", {"limit": 200})
        return {r["name"]: r["state_type"] for r in found}

    expected = {"registre 2 fichier(s)", "crm 2022_08 1 fichier(s)", "dpae 1 fichier(s)",
                "ar 1 fichier(s)"}
    _wait(lambda: {n for n, s in runs().items() if s == "COMPLETED"} >= expected, 60, "runs")
    keys = {a["key"] for a in service.api("artifacts/filter", {"limit": 200})}
    assert {"registre-fichiers", "crm-resume", "crm-81234567600017-2022-08",
            "dpae-preparation", "ar-fichiers"} <= keys
    deployments = {d["name"] for d in service.api("deployments/filter", {"limit": 50})}
    assert deployments == {"balayage-inbox", "suivi-dpae", "expiration-taux", "recuperation-crm",
                           "doctor"}
    nirs = ("285037512345678", "290036912304528", "185119935201279")
    names = " ".join(runs())
    assert not any(nir in names for nir in nirs)


def test_failed_runs_and_quarantined_files_raise_alerts(service: Service) -> None:
    """The automations notify through the default log-only block (loaded by the server)."""
    settings = service.settings
    automations = {a["name"] for a in service.api("automations/filter", {"limit": 50})}
    assert automations == {"gedflow-echec", "gedflow-quarantaine", "gedflow-controle-dsn",
                           "gedflow-dpae-manquante", "gedflow-taux-sur-taux"}
    journal = settings.state_dir / "logs" / "alertes.log"
    _drop(settings, "dpae/embauches_casse.pdf", b"%PDF-1.4 pas un tableau")
    _wait(lambda: journal.exists() and "quarantaine" in journal.read_text(), 120,
          "the quarantine alert")
    assert "dpae/embauches_casse.pdf" in journal.read_text()
    # The example DSN hires A003 in September 2022 without DPAE: two alerts.
    _drop(settings, "dsn/ASSO-TILLEULS/dsn_2022_09.dsn",
          (EXAMPLES / "dsn/dsn_2022_09.dsn").read_bytes())
    _wait(lambda: "embauche sans DPAE" in journal.read_text(), 120, "the missing DPAE alert")
    _wait(lambda: "contrôle DSN en erreur" in journal.read_text(), 60, "the control alert")
    assert "DPAE_MANQUANTE" in journal.read_text() and "A003" in journal.read_text()
    [doctor] = [d for d in service.api("deployments/filter", {"limit": 50})
                if d["name"] == "doctor"]
    for _try in range(5):  # the server answers 503 while its database is busy
        created = httpx.post(f"{settings.api_url}/deployments/{doctor['id']}/create_flow_run",
                             json={}, timeout=30)  # every endpoint is a dead port: it fails
        if created.status_code != 503:
            break
        time.sleep(2)
    created.raise_for_status()
    _wait(lambda: "en échec" in journal.read_text(), 180, "the failed-run alert")
    assert "Exécution « doctor » (doctor) en échec" in journal.read_text(), journal.read_text()


def test_prefect_server_killed_files_go_on_and_it_comes_back(service: Service) -> None:
    """The server SIGKILLed under the service: files dropped meanwhile are processed, the
    outage is in the alert log (without Prefect), the server is restarted by the service and
    what was processed meanwhile is published."""
    settings = service.settings
    journal = settings.state_dir / "logs" / "alertes.log"
    before = service.done()
    os.kill(int((settings.state_dir / "prefect-server.pid").read_text()), signal.SIGKILL)
    crm = (EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml").read_bytes()
    for n in range(5):
        _drop(settings, f"crm_nominatif/travail/2022_09/panne_{n}.xml",
              crm.replace(b"900000000000000417", f"90000000000009{n:04d}".encode()))
    _wait(lambda: service.done() == before + 5, 120, "files processed during the outage")
    _wait(lambda: journal.exists() and "dégradé (prefect)" in journal.read_text(), 60,
          "the outage alert")
    _wait(lambda: "rétabli (prefect)" in journal.read_text(), 240, "the server restarted")
    assert service.ledger_counts().get("done:quarantined", 0) <= 1, service.log()  # the PDF
    _wait(lambda: not list((settings.state_dir / "a_publier").glob("*.json")), 120,
          "the outcomes published")
    keys = {a["key"] for a in service.api("artifacts/filter", {"limit": 200})}
    assert "crm-81234567600017-2022-09" in keys


def _employeurs(i: int) -> bytes:
    return EMPLOYEURS.replace("ASSOCIATION LES TILLEULS", f"ASSOCIATION LES TILLEULS {i}").encode()


def _accounted(settings: Settings) -> int:
    """Dropped files found in the archive or quarantine (reports and reasons aside)."""
    return sum(1 for folder in (settings.archive, settings.quarantine)
               for p in folder.rglob("*")
               if p.is_file() and not p.name.endswith((".reason.txt", ".import.csv")))


def test_a_burst_of_5000_files_is_all_accounted_for(service: Service) -> None:
    settings = service.settings
    before, accounted = service.ledger_counts(), _accounted(settings)
    staging = settings.root / "staging-burst"
    for i in range(1000):  # distinct registry files: archived
        (staging / "registre").mkdir(parents=True, exist_ok=True)
        (staging / f"registre/employeurs_u{i:04}.csv").write_bytes(_employeurs(i))
    for i in range(2000):  # the same bytes 2,000 times: 1 archived, 1,999 duplicates
        (staging / f"registre/employeurs_d{i:04}.csv").write_bytes(_employeurs(-1))
    (staging / "divers").mkdir()
    for i in range(2000):  # outside the watched folders: quarantined with a reason
        (staging / f"divers/note_{i:04}.txt").write_text(f"note {i}\n")
    for folder in ("registre", "divers"):
        (settings.inbox / folder).mkdir(exist_ok=True)
        for path in (staging / folder).iterdir():
            path.rename(settings.inbox / folder / path.name)
    _wait(lambda: service.done() == sum(before.values()) + 5000, 900, "the burst")
    after = service.ledger_counts()
    gained = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert gained == {"done:archived": 1001, "done:duplicate": 1999, "done:quarantined": 2000}
    assert _accounted(settings) - accounted == 5000
    assert not list(settings.inbox.rglob("*.csv")) and not list(settings.inbox.rglob("*.txt"))
    reason = (settings.quarantine / "divers/note_0000.txt.reason.txt").read_text()
    assert "hors des dossiers surveillés" in reason


def test_kill_9_mid_batch_then_restart_loses_nothing(service: Service) -> None:
    settings = service.settings
    before = sum(service.ledger_counts().values())
    staging = settings.root / "staging-kill"
    (staging).mkdir()
    for i in range(600):
        (staging / f"employeurs_k{i:04}.csv").write_bytes(_employeurs(10_000 + i))
    for path in staging.iterdir():
        path.rename(settings.inbox / "registre" / path.name)
    _wait(lambda: service.done() >= before + 20, 300, "the batch to start")
    service.kill9()
    left = service.done() - before
    assert left < 600, "the batch finished before the kill: nothing was tested"
    service.start()
    _wait(lambda: service.done() == before + 600, 600, "the rest of the batch")
    counts = service.ledger_counts()
    assert sum(counts.values()) == before + 600  # one ledger row per file: none taken twice
    assert set(counts) <= {"done:archived", "done:duplicate", "done:quarantined"}
    engine = migrate(settings.registry_url)
    with engine.connect() as conn:
        sources = conn.execute(select(ledger.c.source_path)
                               .where(ledger.c.source_path.like("registre/employeurs_k%"))).all()
    assert len(sources) == 600 and len(set(sources)) == 600
    archived = list((settings.archive / "registre").glob("employeurs_k*.csv"))
    assert len([p for p in archived if not p.name.endswith(".import.csv")]) == 600
    assert not any(settings.processing.rglob("*.csv"))
    shutil.rmtree(staging)
