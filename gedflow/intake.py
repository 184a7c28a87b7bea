"""File intake shared by every flow: find complete files, claim them, hand them to a handler,
then archive or quarantine them — never deleting, never processing the same bytes twice.

Lifecycle (Maildir-like):
  inbox/<rel>  --rename-->  .gedflow/processing/<token>/<rel>   (ledger row: state "claimed")
    → handler → ledger state "moving" with the destination, rename, ledger state "done"
  destination: outbox/archive/<rel> | outbox/quarantine/<rel> (+ <name>.reason.txt)
A crash leaves files in the processing area or rows in "moving"; `recover` completes them.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from gedflow.db.bulk import insert_new
from gedflow.db.tables import contenu, ledger
from gedflow.errors import InputError, StorageError
from gedflow.fsutil import atomic_write, free_name, fsync_dir, move, protect, sha256_of
from gedflow.handler import Claim, Handler, HandlerResult, Job
from gedflow.inbox import Outcome, Pending, kind_of, scan
from gedflow.procs import pid_alive, started_after
from gedflow.settings import INBOX_FOLDERS, Settings

log = logging.getLogger(__name__)

def _rel_root(settings: Settings, path: Path) -> str:
    return path.relative_to(settings.root).as_posix()


def _register(settings: Settings, engine: Engine, claimed: Path) -> Claim:
    """Record a file already in the processing area (idempotent: recovery calls it again)."""
    rel_claim = _rel_root(settings, claimed)
    with engine.begin() as conn:
        row = conn.execute(select(ledger).where(ledger.c.claim_path == rel_claim)).first()
        if row is None:
            source = PurePosixPath(*claimed.relative_to(settings.processing).parts[1:]).as_posix()
            sha = sha256_of(claimed)
            values = dict(
                sha256=sha,
                kind=kind_of(source),
                source_path=source,
                claim_path=rel_claim,
                size=claimed.stat().st_size,
                state="claimed",
                received_at=datetime.now(UTC),
            )
            row_id = conn.execute(insert(ledger).values(**values)).inserted_primary_key[0]
            return Claim(id=row_id, kind=values["kind"], rel=source, path=claimed, sha256=sha)
    return Claim(id=row.id, kind=row.kind, rel=row.source_path, path=claimed, sha256=row.sha256)


def _new_token() -> str:
    """A claim's folder name: when, which host, which process (`_abandoned` reads it)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{socket.gethostname()}-{os.getpid()}"


def claim(settings: Settings, engine: Engine, pending: Pending) -> Claim | None:
    """Take a complete file out of the inbox by atomic rename; None if another run took it."""
    target = settings.processing / _new_token() / pending.rel
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        move(pending.path, target)
    except FileNotFoundError:
        return None
    return _register(settings, engine, target)


def _finish_move(settings: Settings, engine: Engine, row_id: int, src: Path, dst: Path) -> None:
    """The move to the archive or quarantine, the file made owner-only there (it keeps the mode
    it was dropped with otherwise), then the ledger."""
    try:
        move(src, dst)
    except FileNotFoundError:  # moved already (before a crash, or by another recoverer)
        if not dst.exists():
            raise
    protect(dst)
    with engine.begin() as conn:
        conn.execute(
            update(ledger)
            .where(ledger.c.id == row_id)
            .values(state="done", processed_at=datetime.now(UTC))
        )
    _prune(settings, src.parent)


def _prune(settings: Settings, folder: Path) -> None:
    """Remove the claim's now-empty folders up to the processing area."""
    while folder != settings.processing and settings.processing in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# A claim of another machine (shared inbox) is taken over only after this long.
FOREIGN_CLAIM_SECONDS = 3600.0


def _abandoned(token: str, now: datetime) -> bool:
    """Whether the process that made a claim is gone (`<time>-<host>-<pid>`).

    Claims of this process count as abandoned: callers recover between batches, when none of
    their own claims is in flight. Another live process on this host keeps its claims, unless
    it started after the claim (its pid was reused); another host's are taken over once old.
    Tokens of another shape (hand-made) are abandoned.
    """
    stamp, _, rest = token.partition("-")
    host, _, pid = rest.rpartition("-")
    try:
        made = datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
        owner = int(pid)
    except ValueError:
        return True
    if host != socket.gethostname():
        return (now - made).total_seconds() > FOREIGN_CLAIM_SECONDS
    return (owner == os.getpid() or not pid_alive(owner)
            or started_after(owner, made.timestamp()))


def _claim_token(settings: Settings, claim_path: Path) -> str:
    return claim_path.relative_to(settings.processing).parts[0]


def recover(settings: Settings, engine: Engine) -> list[Claim]:
    """Complete what a crashed process left: finish its interrupted moves, return its claims
    still to process (claims of live processes are theirs to finish)."""
    now = datetime.now(UTC)
    with engine.connect() as conn:
        moving = conn.execute(select(ledger).where(ledger.c.state == "moving")).all()
    for row in moving:
        src = settings.root / row.claim_path
        if not _abandoned(_claim_token(settings, src), now):
            continue
        log.warning("recovering interrupted move of ledger row %s", row.id)
        _finish_move(settings, engine, row.id, src, settings.root / row.final_path)
    claims = []
    if settings.processing.exists():
        mine = settings.processing / _new_token()
        for token in sorted(p.name for p in settings.processing.iterdir()):
            if not _abandoned(token, now):
                continue
            for dirpath, _dirs, filenames in os.walk(settings.processing / token):
                for name in sorted(filenames):
                    found = _take_over(settings, engine, Path(dirpath) / name, token, mine)
                    if found:
                        claims.append(found)
            _prune_token(settings.processing / token)
    return claims


def _take_over(settings: Settings, engine: Engine, path: Path, token: str,
               mine: Path) -> Claim | None:
    """An abandoned claim made ours by one atomic rename into our own claim folder: when
    several sweepers (the watcher, the scheduled sweep, other machines) recover at once, one
    rename wins and the others find the file gone. The ledger row follows the file."""
    target = mine / path.relative_to(settings.processing / token)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.rename(target)
    except FileNotFoundError:  # another sweeper's rename won
        return None
    fsync_dir(target.parent)
    with engine.begin() as conn:
        conn.execute(update(ledger).where(ledger.c.claim_path == _rel_root(settings, path))
                     .values(claim_path=_rel_root(settings, target)))
    return _register(settings, engine, target)


def _prune_token(folder: Path) -> None:
    """Remove an abandoned claim folder once empty (its files taken over)."""
    for dirpath, _dirs, _files in sorted(os.walk(folder), reverse=True):
        try:
            Path(dirpath).rmdir()
        except OSError:
            pass


def _holder(engine: Engine, claim_: Claim) -> int:
    """The ledger row that holds this content: ours once our key is in (insert-or-detect on
    the SHA-256: two runs of the same bytes cannot both get it), else the other's."""
    with engine.begin() as conn:
        insert_new(conn, contenu, {"sha256": claim_.sha256, "ledger_id": claim_.id},
                   ["sha256"])
        return conn.execute(select(contenu.c.ledger_id)
                            .where(contenu.c.sha256 == claim_.sha256)).scalar_one()


def _release(engine: Engine, claim_: Claim) -> None:
    """A content quarantined may come again (once fixed): our key is given back."""
    with engine.begin() as conn:
        conn.execute(delete(contenu).where(contenu.c.sha256 == claim_.sha256)
                     .where(contenu.c.ledger_id == claim_.id))


def _where(engine: Engine, ledger_id: int) -> str:
    with engine.connect() as conn:
        row = conn.execute(select(ledger.c.final_path, ledger.c.state)
                           .where(ledger.c.id == ledger_id)).one_or_none()
    if row is None or row.state != "done" or not row.final_path:
        return f"ligne {ledger_id} du registre des fichiers, en cours de traitement"
    return row.final_path


def _finish(
    settings: Settings,
    engine: Engine,
    claim_: Claim,
    outcome: str,
    dest: Path,
    *,
    reason: str = "",
    report: Path | None = None,
) -> Path:
    """Ledger says where the file goes (state "moving"), then the rename, then state "done"."""
    if reason:
        atomic_write(dest.with_name(dest.name + ".reason.txt"), reason)
    with engine.begin() as conn:
        conn.execute(
            update(ledger)
            .where(ledger.c.id == claim_.id)
            .values(
                state="moving",
                outcome=outcome,
                final_path=_rel_root(settings, dest),
                reason=reason or None,
                report_path=_rel_root(settings, report) if report else None,
            )
        )
    _finish_move(settings, engine, claim_.id, claim_.path, dest)
    return dest


# Writing failed for want of room or rights: the environment's fault, never the file's.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _within_size(settings: Settings, claim_: Claim) -> None:
    """A file above `taille_max_mo` is refused before any parsing (memory and disk stay
    bounded, whatever is dropped)."""
    size = claim_.path.stat().st_size
    if size > settings.taille_max_mo * 1024 * 1024:
        raise InputError(
            f"fichier trop gros ({size / 1024 / 1024:.0f} Mo, au plus {settings.taille_max_mo} "
            "Mo) : non lu", code="taille",
            todo="vérifiez que c'est le bon fichier ; sinon augmentez [gedflow] taille_max_mo")


def _internal(exc: Exception) -> str:
    return (f"Problème : erreur interne de gedflow ({type(exc).__name__}: {exc})\n"
            "Code : erreur_interne\n"
            "Que faire : signalez-le ; une fois corrigé, redéposez le fichier.\n")


def process(settings: Settings, engine: Engine, claim_: Claim, handler: Handler) -> Outcome:
    """Run `handler` on a claimed file and archive it, or quarantine it with a reason."""
    now = datetime.now(UTC)
    holder = _holder(engine, claim_)
    if holder != claim_.id:
        reason = (f"duplicate of {_where(engine, holder)}\n"
                  "(même contenu déjà traité : rien n'a été refait)\n")
        dest = free_name(settings.quarantine / claim_.rel, now)
        _finish(settings, engine, claim_, "duplicate", dest, reason=reason)
        return Outcome(claim_.id, claim_.kind, claim_.rel, "duplicate", dest, reason=reason)
    archive_path = free_name(settings.archive / claim_.rel, now)
    try:
        _within_size(settings, claim_)
        result = handler(Job(settings, engine, claim_, archive_path))
    except InputError as exc:
        reason = exc.explain()
    except (OperationalError, InterfaceError):
        raise  # the registry database is away: the file stays claimed, processed again later
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS:  # not the file's fault: it stays claimed, untouched
            raise StorageError(f"écriture impossible ({exc.strerror}) : {exc.filename or ''} "
                               f"— fichier {claim_.rel} laissé à traiter") from exc
        log.exception("internal error on ledger row %s", claim_.id)
        reason = _internal(exc)
    except Exception as exc:  # a bug or an environment fault: the file must still not be lost
        log.exception("internal error on ledger row %s", claim_.id)
        reason = _internal(exc)
    else:
        _finish(settings, engine, claim_, "archived", archive_path, report=result.report_path)
        return Outcome(
            claim_.id, claim_.kind, claim_.rel, "archived", archive_path,
            report_path=result.report_path, summary=result.summary, artifacts=result.artifacts,
            alerts=result.alerts,
        )
    dest = free_name(settings.quarantine / claim_.rel, now)
    _finish(settings, engine, claim_, "quarantined", dest, reason=reason)
    _release(engine, claim_)
    return Outcome(claim_.id, claim_.kind, claim_.rel, "quarantined", dest, reason=reason)


def claim_ready(settings: Settings, engine: Engine) -> tuple[list[Claim], list[Pending]]:
    """Abandoned claims first, then every complete inbox file; also the files still settling."""
    claims = recover(settings, engine)
    pending = scan(settings)
    claims += [c for p in pending if p.complete and (c := claim(settings, engine, p))]
    return claims, [p for p in pending if not p.complete]


OUTCOMES = ("archived", "quarantined", "duplicate")


def count_outcomes(outcomes: list[Outcome]) -> dict[str, int]:
    """How many files ended archived, quarantined, duplicate."""
    return {name: sum(o.outcome == name for o in outcomes) for name in OUTCOMES}


def claims_by_id(settings: Settings, engine: Engine, ids: list[int]) -> list[Claim]:
    """Claims still to process, by ledger id (flows receive ids, never names or content)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ledger).where(ledger.c.id.in_(ids)).where(ledger.c.state == "claimed")
        ).all()
    by_id = {
        row.id: Claim(row.id, row.kind, row.source_path, settings.root / row.claim_path, row.sha256)
        for row in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def refuse_unknown(job: Job) -> HandlerResult:
    """The handler of files dropped outside the watched folders: quarantine, saying where to."""
    raise InputError(
        "fichier déposé hors des dossiers surveillés",
        code="dossier_inconnu",
        where=f"inbox/{job.claim.rel}",
        todo="déposez-le dans inbox/" + ", inbox/".join(INBOX_FOLDERS),
    )
