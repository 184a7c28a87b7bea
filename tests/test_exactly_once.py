"""Exactly once under crashes and concurrency: dead claims taken over by one sweeper only, a
reused pid not mistaken for the claim's owner, and each CRM integrated once whatever runs it,
the unique key of its identity deciding (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from gedflow.crm.handler import handle_crm
from gedflow.db.tables import crm_declaration, ledger, taux
from gedflow.inbox import scan
from gedflow.intake import _abandoned, claim, process
from gedflow.settings import Settings

from .test_crm import _crm, _p, drop

REPO = Path(__file__).resolve().parent.parent
FILES = 24


def _worker(action: str, settings: Settings) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tests.intake_worker", action,
                             str(settings.root)], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=REPO)


def _ids(process_: subprocess.Popen) -> list[int]:
    out, _err = process_.communicate(timeout=300)
    assert process_.returncode == 0
    return json.loads(out.strip().splitlines()[-1])


def _drop_crms(settings: Settings) -> None:
    for n in range(FILES):
        drop(settings, f"crm_nominatif/travail/2022_09/c{n:02d}.xml",
             _crm(_p("2850375112034", f"{n % 9 + 1}.00"), identifiant=f"9000000000000{n:05d}"))


@pytest.mark.slow
def test_two_sweepers_take_each_dead_claim_once(seeded: Settings, engine: Engine) -> None:
    _drop_crms(seeded)
    claimed = _ids(_worker("claim", seeded))  # a run that claimed, then died
    assert len(claimed) == FILES
    first, second = _worker("recover", seeded), _worker("recover", seeded)
    a, b = _ids(first), _ids(second)
    assert sorted(a + b) == sorted(claimed) and not set(a) & set(b)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crm_declaration)).scalar() == FILES
        states = conn.execute(select(ledger.c.state, ledger.c.outcome)).all()
    assert {tuple(s) for s in states} == {("done", "archived")} and len(states) == FILES
    assert not list(seeded.processing.rglob("*.xml"))


def test_a_crm_is_integrated_once_even_when_processed_twice(seeded: Settings,
                                                            engine: Engine) -> None:
    content = _crm(_p("2850375112034", "8.00"))
    drop(seeded, "crm_nominatif/travail/2022_09/a.xml", content)
    drop(seeded, "crm_nominatif/travail/2022_09/b.xml", content + "\n")  # other bytes
    claims = [c for p in scan(seeded) if (c := claim(seeded, engine, p))]
    outcomes = [process(seeded, engine, c, handle_crm) for c in claims]
    assert [o.summary["81234567600017"] for o in outcomes] == ["integre", "deja_integre"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crm_declaration)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(taux)
                            .where(taux.c.taux_pas == "8.00")).scalar() == 1


def test_the_database_refuses_a_second_row_for_one_identity(seeded: Settings,
                                                            engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    row = dict(identifiant_crm="X", identite="X", kind="nominatif", siren="812345676",
               nic="00017", siret="81234567600017", sha256="0" * 64, source="s", personnes=0,
               sans_taux=0, statut="integre", created_at=datetime.now(UTC))
    with engine.begin() as conn:
        conn.execute(crm_declaration.insert().values(**row))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(crm_declaration.insert().values(**{**row, "sha256": "1" * 64}))


def test_a_reused_pid_does_not_keep_a_dead_claim() -> None:
    host = socket.gethostname()
    old = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y%m%dT%H%M%S%f")
    young = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # a live process that started after the claim: the pid was reused, the claim is dead
        assert _abandoned(f"{old}-{host}-{young.pid}", datetime.now(UTC))
        later = (datetime.now(UTC) + timedelta(seconds=5)).strftime("%Y%m%dT%H%M%S%f")
        assert not _abandoned(f"{later}-{host}-{young.pid}", datetime.now(UTC))  # its own
    finally:
        young.kill()
        young.wait()


def test_two_files_of_the_same_bytes_never_both_processed(seeded: Settings,
                                                          engine: Engine) -> None:
    """The content key decides, not a read: the second claim of the same bytes is a
    duplicate even while the first is still being processed."""
    content = _crm(_p("2850375112034", "6.00"))
    drop(seeded, "crm_nominatif/travail/2022_09/a.xml", content)
    drop(seeded, "crm_nominatif/travail/2022_09/b.xml", content)
    first, second = [c for p in scan(seeded) if (c := claim(seeded, engine, p))]
    seen = []

    def handler(job):  # while the first is in hand, the second comes
        seen.append(process(seeded, engine, second, handle_crm).outcome)
        return handle_crm(job)

    assert process(seeded, engine, first, handler).outcome == "archived"
    assert seen == ["duplicate"]
    reason = (seeded.quarantine / "crm_nominatif/travail/2022_09/b.xml.reason.txt").read_text()
    assert "en cours de traitement" in reason
