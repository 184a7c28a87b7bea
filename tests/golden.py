"""The golden-file helper: what a report says, compared with its file under `tests/data/`.
After an intended change, `UPDATE_GOLDEN=1 make test` rewrites the files; read the diff before
committing it."""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def assert_golden(actual: str | bytes, name: str) -> None:
    """`actual` is byte for byte `tests/data/<name>` (text as UTF-8)."""
    golden = DATA / name
    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
    assert golden.exists(), f"{name}: no golden file yet (UPDATE_GOLDEN=1 writes it)"
    assert data == golden.read_bytes(), f"{name} differs from its golden file"
