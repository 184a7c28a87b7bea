"""Bulk writes for the hot paths, with no per-row work in SQLAlchemy (its parameter
processing costs ~6 µs a row): on SQLite one `executemany` of plain tuples, on PostgreSQL one
statement over arrays (`unnest`). Updates are an `executemany` on both.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Table

if TYPE_CHECKING:  # the frames come from the callers: the ledger's helpers need no pandas
    import numpy as np
    import pandas as pd


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def db_timestamp(when: datetime) -> str:
    """A timezone-aware timestamp as text both back ends read back as `DateTime(timezone)`."""
    return when.isoformat(sep=" ")


def _objects(frame: pd.DataFrame) -> list[np.ndarray]:
    """Columns as object arrays of plain Python values, missing values as None."""
    return [_values(frame[name]) for name in frame.columns]


def _values(column: pd.Series) -> np.ndarray:
    """A column as an object array, missing values as None. Text that repeats (codes,
    dates, employers) is made into Python strings once per distinct value (Arrow's
    dictionary), each row then pointing at its value's."""
    import numpy as np  # here: the ledger's helpers, without frames, need neither

    from gedflow.formats.arrowtext import SAMPLE, flat

    if column.dtype == "str" and len(column) > 2 * SAMPLE and not column.iloc[:SAMPLE].is_unique:
        import pyarrow as pa
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(flat(pa.array(column.array)), null_encoding="encode")
        distinct = np.append(encoded.dictionary.to_numpy(zero_copy_only=False), None)
        indices = pc.fill_null(encoded.indices, len(encoded.dictionary))  # missing: None
        return distinct[indices.to_numpy()]
    values = column.to_numpy(dtype=object, copy=column.hasnans)  # a view may be read-only
    if column.hasnans:
        values[column.isna().to_numpy()] = None
    return values


def _columns(frame: pd.DataFrame) -> list[list]:
    """Columns as lists (PostgreSQL's arrays), missing values as None."""
    return [values.tolist() for values in _objects(frame)]


def _tuples(frame: pd.DataFrame) -> list[tuple]:
    """Rows as tuples (an executemany's), missing values as None; zipped from the object
    arrays, no list per column."""
    columns = _objects(frame)
    return list(zip(*columns, strict=True)) if columns else [() for _ in range(len(frame))]


def _rows(conn: Connection, table: Table, frame: pd.DataFrame) -> tuple[str, object]:
    """The rows as the source of an INSERT, and its parameters: on PostgreSQL one statement
    over arrays (`unnest`: one round trip, the rows sent as columns); elsewhere VALUES, run
    once per row (executemany)."""
    if conn.dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{table.c[c].type.compile(dialect=conn.dialect)}[]"
                           for c in frame.columns)
        return f"SELECT * FROM unnest({arrays})", tuple(_columns(frame))
    return f"VALUES ({', '.join([_placeholder(conn)] * len(frame.columns))})", _tuples(frame)


def insert_new(conn: Connection, table: Table, values: dict, keys: list[str]) -> int | None:
    """Insert the row unless its unique `keys` are taken (insert-or-detect, never a read then
    a write): the new row's id, None when it was there already. Two runs inserting the same
    key at once cannot both get an id: the second waits for the first's transaction."""
    from sqlalchemy.dialects import postgresql, sqlite

    statement = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        table).values(**values).on_conflict_do_nothing(index_elements=keys)
    if "id" in table.c:
        return conn.execute(statement.returning(table.c.id)).scalar()
    return conn.execute(statement).rowcount or None


def update_rows(frame: pd.DataFrame, columns: list[str], ids) -> list[tuple]:
    """(values…, id) tuples of `frame[columns]` for `bulk_update`, missing values as None."""
    return [(*row, int(i)) for row, i in zip(_tuples(frame[columns]), ids, strict=True)]


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    source, params = _rows(conn, table, frame)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(frame.columns)}) {source}",
                         params)


def bulk_upsert(conn: Connection, table: Table, frame: pd.DataFrame, keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET every other column; a key given twice takes
    its last row (as rows written one after the other would)."""
    if frame.empty:
        return
    frame = frame.drop_duplicates(keys, keep="last")
    cols = list(frame.columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
    source, params = _rows(conn, table, frame)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(cols)}) {source} "
                         f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}", params)


def bulk_update(conn: Connection, table: Table, columns: list[str], rows: list[tuple]) -> None:
    """UPDATE table SET columns… WHERE id = …, once per row tuple (values…, id)."""
    if not rows:
        return
    mark = _placeholder(conn)
    assignments = ", ".join(f"{c} = {mark}" for c in columns)
    conn.exec_driver_sql(f"UPDATE {table.name} SET {assignments} WHERE id = {mark}", rows)


def read_frame(conn: Connection, statement, columns: list[str]) -> pd.DataFrame:
    """A SELECT's rows as a DataFrame, fetched as plain DBAPI tuples (no Row objects)."""
    import pandas as pd

    result = conn.execute(statement)
    return pd.DataFrame.from_records(result.cursor.fetchall(), columns=columns)


CHUNK = 30_000  # well under SQLite's limit on bound variables (and PostgreSQL's 65,535)


def chunked(ids: list[int], size: int = CHUNK) -> list[list[int]]:
    """Id lists cut for `IN (…)` clauses: a batch or an AR can hold a million."""
    return [ids[start:start + size] for start in range(0, len(ids), size)] or [[]]
