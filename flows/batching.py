"""How a flow cuts its files into task runs: chunks of small files (a big file alone), and
rounds in which no two files share their content (orchestration, not domain)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from gedflow.db.tables import ledger

# A task takes claimed files in order until one of these is reached.
CHUNK_FILES = 50
CHUNK_BYTES = 4 * 1024 * 1024


def chunks(engine: Engine, ids: list[int]) -> list[list[int]]:
    """Ledger ids, in order, cut into runs of small files (a big file is alone in its run)."""
    with engine.connect() as conn:
        sizes = dict(conn.execute(select(ledger.c.id, ledger.c.size)
                                  .where(ledger.c.id.in_(ids))).all())
    runs: list[list[int]] = []
    total = CHUNK_BYTES
    for claim_id in ids:
        size = sizes.get(claim_id) or 0
        if len(runs[-1] if runs else ()) >= CHUNK_FILES or total + size > CHUNK_BYTES:
            runs.append([])
            total = 0
        runs[-1].append(claim_id)
        total += size
    return runs


def rounds(engine: Engine, ids: list[int]) -> list[list[int]]:
    """Ledger ids, in order, split so that no two files with the same content share a round:
    files processed at once never both see the other as new (the second is a duplicate)."""
    with engine.connect() as conn:
        hashes = dict(conn.execute(select(ledger.c.id, ledger.c.sha256)
                                   .where(ledger.c.id.in_(ids))).all())
    seen: dict[str, int] = {}
    split: list[list[int]] = []
    for claim_id in ids:
        n = seen.get(hashes.get(claim_id, ""), 0)
        seen[hashes.get(claim_id, "")] = n + 1
        if n == len(split):
            split.append([])
        split[n].append(claim_id)
    return split
