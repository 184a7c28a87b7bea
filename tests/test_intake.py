"""File lifecycle: completeness, claim, archive/quarantine, duplicates, crash recovery."""

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from gedflow.db.tables import ledger
from gedflow.errors import InputError
from gedflow.handler import HandlerResult, Job
from gedflow.inbox import kind_of, scan
from gedflow.intake import claim, process, recover
from gedflow.settings import Settings


def _drop(settings: Settings, rel: str, content: bytes = b"data\n", age: float = 60) -> Path:
    path = settings.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def ok_handler(job: Job) -> HandlerResult:
    report = job.archive_path.with_name(job.archive_path.stem + ".report.txt")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("fine")
    return HandlerResult(report_path=report, summary={"n": 1})


def bad_handler(job: Job) -> HandlerResult:
    raise InputError("pas un CRM nominatif (type=AEE)", code="type", where="racine",
                     todo="déposez le CRM nominatif")


def broken_handler(job: Job) -> HandlerResult:
    raise RuntimeError("disk on fire")


def _ledger(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(ledger.c.source_path, ledger.c.state, ledger.c.outcome).order_by(ledger.c.id))]


def _run(settings: Settings, engine: Engine, handler=ok_handler) -> list:
    outcomes = [process(settings, engine, c, handler) for c in recover(settings, engine)]
    for pending in scan(settings):
        if pending.complete and (c := claim(settings, engine, pending)):
            outcomes.append(process(settings, engine, c, handler))
    return outcomes


def test_kinds_follow_the_ged_layout() -> None:
    assert kind_of("crm_nominatif/travail/2022_08/crm.xml") == "crm"
    assert kind_of("crm_nominatif/travail/2022/2022_08/crm.xml") == "crm"
    assert kind_of("AR/dpae.txt") == "ar"
    assert kind_of("dpae/embauches.csv") == "dpae"
    assert kind_of("registre/salaries.csv") == "registre"
    assert kind_of("stray.txt") == "inconnu"


def test_only_complete_files_are_taken(settings: Settings) -> None:
    settings = settings.__class__(**{**settings.__dict__, "settle_seconds": 30.0})
    _drop(settings, "registre/old.csv", age=60)
    _drop(settings, "registre/fresh.csv", age=0)
    for name in (".hidden.csv", "a.csv.part", "b.tmp", "c.CRDOWNLOAD"):
        _drop(settings, f"registre/{name}")
    _drop(settings, "registre/.sync/inside.csv")
    seen = {p.rel: p.complete for p in scan(settings)}
    assert seen == {"registre/fresh.csv": False, "registre/old.csv": True}


def test_archive_with_report_and_ledger(settings: Settings, engine: Engine) -> None:
    _drop(settings, "registre/employeurs.csv")
    [outcome] = _run(settings, engine)
    assert outcome.outcome == "archived"
    assert outcome.final_path == settings.archive / "registre/employeurs.csv"
    assert outcome.final_path.read_bytes() == b"data\n"
    assert not (settings.inbox / "registre/employeurs.csv").exists()
    assert _ledger(engine) == [("registre/employeurs.csv", "done", "archived")]
    assert list(settings.processing.iterdir()) == []


def test_same_content_twice_is_a_duplicate(settings: Settings, engine: Engine) -> None:
    _drop(settings, "registre/a.csv", b"same")
    _run(settings, engine)
    _drop(settings, "registre/b.csv", b"same")
    _drop(settings, "registre/a.csv", b"new content, same name")
    outcomes = {o.rel: o for o in _run(settings, engine)}
    dup = outcomes["registre/b.csv"]
    assert dup.outcome == "duplicate"
    assert dup.final_path == settings.quarantine / "registre/b.csv"
    reason = (settings.quarantine / "registre/b.csv.reason.txt").read_text()
    assert reason.startswith("duplicate of outbox/archive/registre/a.csv")
    renamed = outcomes["registre/a.csv"]
    assert renamed.outcome == "archived"  # same name, new bytes: processed
    assert renamed.final_path.name.startswith("a.") and renamed.final_path.suffix == ".csv"
    assert renamed.final_path != settings.archive / "registre/a.csv"


def test_bad_input_goes_to_quarantine_with_reason(settings: Settings, engine: Engine) -> None:
    _drop(settings, "crm_nominatif/travail/2022_08/crm.xml")
    [outcome] = _run(settings, engine, bad_handler)
    assert outcome.outcome == "quarantined"
    dest = settings.quarantine / "crm_nominatif/travail/2022_08/crm.xml"
    assert dest.read_bytes() == b"data\n"
    reason = (dest.parent / "crm.xml.reason.txt").read_text()
    assert "pas un CRM nominatif" in reason and "Où : racine" in reason
    assert "Que faire : déposez le CRM nominatif" in reason


def test_internal_error_still_loses_nothing(settings: Settings, engine: Engine) -> None:
    _drop(settings, "registre/x.csv")
    [outcome] = _run(settings, engine, broken_handler)
    assert outcome.outcome == "quarantined"
    assert "erreur interne" in outcome.reason and "disk on fire" in outcome.reason
    # Quarantined bytes are not "already processed": the fixed file can be dropped again.
    _drop(settings, "registre/x.csv")
    [again] = _run(settings, engine)
    assert again.outcome == "archived"


def test_crash_between_claim_and_ledger_recovers(settings: Settings, engine: Engine) -> None:
    """A file renamed into the processing area but never recorded is picked up next run."""
    _drop(settings, "registre/a.csv")
    target = settings.processing / "crashed-token" / "registre/a.csv"
    target.parent.mkdir(parents=True)
    (settings.inbox / "registre/a.csv").rename(target)
    [outcome] = _run(settings, engine)
    assert outcome.outcome == "archived" and outcome.rel == "registre/a.csv"
    assert _ledger(engine) == [("registre/a.csv", "done", "archived")]


def test_crash_between_claim_and_archive_recovers(settings: Settings, engine: Engine) -> None:
    _drop(settings, "registre/a.csv")
    [pending] = scan(settings)
    claimed = claim(settings, engine, pending)  # then the process dies
    assert claimed is not None and _ledger(engine) == [("registre/a.csv", "claimed", None)]
    outcomes = _run(settings, engine)
    assert [o.outcome for o in outcomes] == ["archived"]
    assert _ledger(engine) == [("registre/a.csv", "done", "archived")]


def test_crash_during_the_move_recovers(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ledger says "moving" but the rename never happened: the next run completes it."""
    _drop(settings, "registre/a.csv")
    import gedflow.intake as intake

    def die(*_args, **_kwargs):
        raise KeyboardInterrupt  # stands for kill -9 right after the ledger commit

    monkeypatch.setattr(intake, "_finish_move", die)
    with pytest.raises(KeyboardInterrupt):
        _run(settings, engine)
    assert _ledger(engine) == [("registre/a.csv", "moving", "archived")]
    monkeypatch.undo()
    assert _run(settings, engine) == []  # nothing left to process…
    assert _ledger(engine) == [("registre/a.csv", "done", "archived")]  # …and the move is done
    assert (settings.archive / "registre/a.csv").exists()


def test_a_file_taken_by_another_run_is_skipped(settings: Settings, engine: Engine) -> None:
    path = _drop(settings, "registre/a.csv")
    [pending] = scan(settings)
    path.unlink()
    assert claim(settings, engine, pending) is None


def test_every_dropped_file_is_accounted_for(settings: Settings, engine: Engine) -> None:
    for i in range(40):
        _drop(settings, f"registre/f{i}.csv", f"content {i % 25}".encode())
    outcomes = _run(settings, engine, ok_handler)
    counts = {k: sum(o.outcome == k for o in outcomes) for k in ("archived", "duplicate")}
    assert counts == {"archived": 25, "duplicate": 15}
    assert len(_ledger(engine)) == 40
    assert list(settings.inbox.rglob("*.csv")) == []


def test_claims_of_a_live_process_are_left_to_it(settings: Settings, engine: Engine) -> None:
    """Two processes sweeping one inbox (watcher + scheduled sweep): recovery takes over only
    the claims of dead processes, so no file is processed twice."""
    import socket
    import subprocess
    import sys

    _drop(settings, "registre/a.csv")
    [pending] = scan(settings)
    claimed = claim(settings, engine, pending)
    assert claimed is not None
    token_dir = claimed.path.relative_to(settings.processing).parts[0]
    stamp = token_dir.split("-")[0]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owned = settings.processing / f"{stamp}-{socket.gethostname()}-{live.pid}"
        (settings.processing / token_dir).rename(owned)
        assert recover(settings, engine) == []  # its owner is alive: not ours to take
    finally:
        live.kill()
        live.wait()
    [taken] = recover(settings, engine)  # the owner died: taken over
    assert taken.rel == "registre/a.csv"
    assert process(settings, engine, taken, ok_handler).outcome == "archived"


def test_chunks_keep_order_and_put_big_files_alone(settings: Settings, engine: Engine) -> None:
    from flows.batching import CHUNK_BYTES, CHUNK_FILES, chunks

    for i in range(CHUNK_FILES + 3):
        _drop(settings, f"registre/s{i:03}.csv", f"{i}\n".encode())
    _drop(settings, "registre/t_big.csv", b"x" * (CHUNK_BYTES + 1))
    _drop(settings, "registre/u_after.csv", b"after\n")
    ids = [c.id for p in scan(settings) if (c := claim(settings, engine, p))]
    runs = chunks(engine, ids)
    assert [len(r) for r in runs] == [CHUNK_FILES, 3, 1, 1]
    assert [i for r in runs for i in r] == ids
