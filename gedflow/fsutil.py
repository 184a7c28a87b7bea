"""Durable file operations: every output goes temp → fsync → `os.replace` → fsync(dir), and
what gedflow writes or moves (reports, archive, quarantine, downloads) is owner-only: files
0600, folders 0700 — or, when `[gedflow] groupe` names the payroll team's group, 0640 / 0750
with that group (`POLICY`, set once per process by `load_settings`). Secrets (credentials and
their key) stay 0600 whatever the policy.
"""

from __future__ import annotations

import grp
import hashlib
import mmap
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

OWNER_ONLY = 0o600


@dataclass
class Policy:
    """How what gedflow writes is protected: modes, and the group that may read it."""

    file_mode: int = OWNER_ONLY
    dir_mode: int = 0o700
    group: str = ""


POLICY = Policy()


def set_group(group: str) -> None:
    """Owner-only (no group), or readable by `group`; the process's umask follows, so files
    made by libraries (the registry database, logs) get the same protection."""
    POLICY.group = group
    POLICY.file_mode, POLICY.dir_mode = (0o640, 0o750) if group else (OWNER_ONLY, 0o700)
    os.umask(0o027 if group else 0o077)


def protect(path: Path) -> Path:
    """Give `path` the policy's mode (a folder its folder mode) and group."""
    path.chmod(POLICY.dir_mode if path.is_dir() else POLICY.file_mode)
    if POLICY.group:
        shutil.chown(path, group=POLICY.group)
    return path


def make_dirs(path: Path) -> Path:
    """`path` and its missing parents, each created with the policy's folder mode."""
    missing = []
    at = path
    while not at.exists():
        missing.append(at)
        at = at.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        protect(folder)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | str, mode: int | None = None) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one (mode:
    the policy's, unless given)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return atomic_write_with(path, lambda handle: handle.write(raw), mode)


def atomic_write_with(path: Path, write: Callable[[BinaryIO], object],
                      mode: int | None = None) -> Path:
    """`atomic_write`, the content streamed by `write(handle)` (no copy of it in memory)."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode if mode is not None else POLICY.file_mode)
        if POLICY.group and mode is None:
            os.fchown(fd, -1, grp.getgrnam(POLICY.group).gr_gid)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def move(src: Path, dst: Path) -> Path:
    """Atomic rename within one file system, made durable."""
    make_dirs(dst.parent)
    src.rename(dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        try:
            fsync_dir(src.parent)
        except FileNotFoundError:  # emptied and removed meanwhile: nothing left to make durable
            pass
    return dst


def free_name(path: Path, when: datetime) -> Path:
    """`path` if unused, else `<stem>.<AAAAMMJJTHHMMSS>[-n]<suffix>` beside it."""
    if not path.exists() and not path.is_symlink():
        return path
    stamp = when.strftime("%Y%m%dT%H%M%S")
    for n in range(10_000):
        extra = f"-{n}" if n else ""
        candidate = path.with_name(f"{path.stem}.{stamp}{extra}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes, mapped rather than loaded (an empty file: b"")."""
    with path.open("rb") as handle:
        if not os.fstat(handle.fileno()).st_size:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data
