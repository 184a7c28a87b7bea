"""Chaos: a mixed stream of files (valid CRMs and registry files, garbage, the same bytes under
other names) into the running service, the service and its Prefect server SIGKILLed at random
moments and restarted; at the end every file is archived or quarantined exactly once (each
quarantined one with its reason), each CRM integrated once, no ledger row left waiting.

Larger runs outside CI: GEDFLOW_CHAOS_FILES, GEDFLOW_CHAOS_KILLS, GEDFLOW_CHAOS_SEED.
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
from sqlalchemy import func, select

from flows.server import stop_background_server
from gedflow.db.engine import migrate
from gedflow.db.tables import crm_declaration, ledger
from gedflow.registry.importer import import_csv

from .conftest import EXAMPLES
from .pg import free_port
from .test_service import DEAD_ENDPOINTS, Service, _drop, _wait

pytestmark = pytest.mark.slow
FILES = int(os.environ.get("GEDFLOW_CHAOS_FILES", "240"))
KILLS = int(os.environ.get("GEDFLOW_CHAOS_KILLS", "3"))
SEED = int(os.environ.get("GEDFLOW_CHAOS_SEED", "20261201"))
CRM = (EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml").read_bytes()
EMPLOYEURS = (EXAMPLES / "registre/employeurs_exemple.csv").read_bytes()


def _stream(rng: random.Random) -> list[tuple[str, bytes, str]]:
    """(inbox path, bytes, expected kind of outcome) for FILES files."""
    files, crms = [], []
    for n in range(FILES):
        pick = rng.random()
        if pick < 0.5 or not crms:
            body = CRM.replace(b"900000000000000417", f"9{n:017d}".encode())
            crms.append(body)
            files.append((f"crm_nominatif/travail/2022_08/c{n:04d}.xml", body, "crm"))
        elif pick < 0.7:
            body = EMPLOYEURS.replace(b"LES TILLEULS", f"LES TILLEULS {n}".encode())
            files.append((f"registre/employeurs_{n:04d}.csv", body, "archived"))
        elif pick < 0.85:
            files.append((f"crm_nominatif/travail/2022_08/g{n:04d}.xml",
                          b"%PDF-1.4 pas un CRM " + str(n).encode(), "quarantined"))
        else:  # the same bytes as an earlier CRM, under another name
            files.append((f"crm_nominatif/travail/2022_08/d{n:04d}.xml", rng.choice(crms),
                          "duplicate"))
    return files


def _kill_all(service: Service) -> None:
    pidfile = service.settings.state_dir / "prefect-server.pid"
    service.kill9()
    try:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass


def test_chaos(tmp_path_factory: pytest.TempPathFactory) -> None:
    rng = random.Random(SEED)
    root = tmp_path_factory.mktemp("chaos")
    (root / "gedflow.toml").write_text(
        '[gedflow]\nsettle_seconds = 0.5\ncrm_disponibilite = "2022-08-13"\n'
        f"[service]\nport = {free_port()}\nbalayage_secondes = 5\n"
        f'[connexion]\ndelai = 2\nessais = 1\n{DEAD_ENDPOINTS}', encoding="utf-8")
    service = Service(root)
    engine = migrate(service.settings.registry_url)
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    files = _stream(rng)
    waves = [files[i::KILLS + 1] for i in range(KILLS + 1)]
    service.start()
    try:
        for wave in waves[:-1]:
            for rel, body, _kind in wave:
                _drop(service.settings, rel, body)
            time.sleep(rng.uniform(0.5, 4.0))  # somewhere in the middle of the work
            _kill_all(service)
            service.start()
        for rel, body, _kind in waves[-1]:
            _drop(service.settings, rel, body)
        started = time.monotonic()
        _wait(lambda: service.done() == len(files), 900, "the stream to drain")
        drained = time.monotonic() - started
    finally:
        service.stop()
        stop_background_server(service.settings)
    counts = service.ledger_counts()
    expected = {"done:archived": sum(k in ("crm", "archived") for _r, _b, k in files),
                "done:quarantined": sum(k == "quarantined" for _r, _b, k in files),
                "done:duplicate": sum(k == "duplicate" for _r, _b, k in files)}
    assert counts == {k: v for k, v in expected.items() if v}, service.log()[-3000:]
    with engine.connect() as conn:
        sources = conn.execute(select(ledger.c.source_path)).scalars().all()
        integrated = conn.execute(select(func.count()).select_from(crm_declaration)).scalar()
    assert sorted(sources) == sorted(rel for rel, _b, _k in files)  # each file once
    assert integrated == 2 * sum(k == "crm" for _r, _b, k in files)  # each CRM (2 SIRETs) once
    with engine.connect() as conn:  # which of equal files is the duplicate: the later taken
        refused = conn.execute(select(ledger.c.final_path)
                               .where(ledger.c.outcome != "archived")).scalars().all()
    for final in refused:
        assert (root / f"{final}.reason.txt").exists(), final
    assert not list(service.settings.processing.rglob("*.*"))
    print(f"chaos: {len(files)} files, {KILLS} kills, seed {SEED}, drained in {drained:.0f} s")
