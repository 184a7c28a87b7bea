"""Reading the registry without SQLAlchemy. SQLAlchemy's import alone takes longer than the
whole of `gedflow status` may, so the read-only commands' queries are SQL text run on the
driver (sqlite3, psycopg); the same queries run on a flow's SQLAlchemy connection.

A registry whose schema is behind (or a new one) is migrated first, through SQLAlchemy and
Alembic: then, and only then, the command pays their import.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gedflow.errors import RegistryUnreachable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The latest revision: each migration's id is its file's 4-digit prefix (a test holds it to
# Alembic's own head).
HEAD = max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
SQLITE = "sqlite:///"
CONNECT_TIMEOUT = 10  # seconds: a command waits no longer for a database that does not answer
_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def _open(url: str) -> Any:
    """A driver connection; `RegistryUnreachable` (saying where and why, no password) when
    the database does not answer."""
    if url.startswith(SQLITE):
        try:
            return sqlite3.connect(url.removeprefix(SQLITE), timeout=30)
        except sqlite3.Error as exc:
            raise _unreachable(url, exc) from exc
    import psycopg

    scheme, rest = url.split("://", 1)
    try:
        return psycopg.connect(f"{scheme.split('+')[0]}://{rest}", autocommit=True,
                               connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError as exc:
        raise _unreachable(url, exc) from exc


def _unreachable(url: str, exc: Exception) -> RegistryUnreachable:
    why = " ".join(str(exc).split()) or type(exc).__name__
    return RegistryUnreachable(
        f"registre injoignable ({hide_password(url)}) : {why} ; vérifiez que la base de "
        "données tourne et le réglage database_url")


def _revision(conn: Any) -> str | None:
    if isinstance(conn, sqlite3.Connection):
        failures = sqlite3.Error
    else:
        import psycopg

        failures = psycopg.Error
    try:
        found = rows(conn, "SELECT version_num FROM alembic_version")
    except failures:
        return None
    return found[0][0] if found else None


@contextmanager
def reading(url: str) -> Iterator[Any]:
    """A driver connection to the registry at `url`, at the latest schema, closed after."""
    if url.startswith(SQLITE) and not Path(url.removeprefix(SQLITE)).exists():
        conn = None
    else:
        conn = _open(url)
        if _revision(conn) != HEAD:
            conn.close()
            conn = None
    if conn is None:
        from gedflow.db.engine import migrate

        migrate(url)
        conn = _open(url)
    try:
        yield conn
    finally:
        conn.close()


def rows(conn: Any, sql: str, **params: object) -> list[tuple]:
    """`sql`'s rows (`:name` placeholders) on a connection of `reading` or on an SQLAlchemy
    connection; values as the driver gives them (dates through `day` and `moment`)."""
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(sql, params).fetchall()
    if hasattr(conn, "exec_driver_sql"):  # SQLAlchemy: its dialect's driver underneath
        if conn.dialect.name != "sqlite":
            sql = _NAMED.sub(r"%(\1)s", sql)
        return [tuple(row) for row in conn.exec_driver_sql(sql, params)]
    return conn.execute(_NAMED.sub(r"%(\1)s", sql), params).fetchall()


def day(value: date | str | None) -> date | None:
    """A DATE column's value (SQLite gives its ISO text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def moment(value: datetime | str | None) -> datetime | None:
    """A timestamp column's value, aware (SQLite gives text, UTC when it has no offset)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def hide_password(url: str) -> str:
    """The URL as it may be printed: its password as `***`."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
