"""Durable file operations: every output goes temp → fsync → `os.replace` → fsync(dir), and
files holding personal data are created owner-only (reliability.md §1, requirement 6).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

OWNER_ONLY = 0o600


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | str, mode: int = OWNER_ONLY) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return atomic_write_with(path, lambda handle: handle.write(raw), mode)


def atomic_write_with(path: Path, write: Callable[[BinaryIO], object],
                      mode: int = OWNER_ONLY) -> Path:
    """`atomic_write`, the content streamed by `write(handle)` (no copy of it in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
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
    dst.parent.mkdir(parents=True, exist_ok=True)
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
