"""Registry database: engine per URL (SQLite by default, PostgreSQL when configured) and
Alembic migrations run at start-up (`gedflow init` and every command that opens the registry)
when the schema is behind: a registry already at the latest revision is opened without
importing Alembic.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError

from gedflow.db.reading import HEAD, MIGRATIONS

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 (DBAPI hook)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL for the process; SQLite files get WAL and foreign keys."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds NIRs
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> Engine:
    """Bring the registry at `url` to the latest schema and return its engine. Done once per
    process and URL: every flow task opens the registry, and an Alembic upgrade is not free."""
    engine = engine_for(url)
    if url not in _MIGRATED:
        if _revision(engine) != HEAD:
            from alembic import command

            with engine.begin() as conn:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        _MIGRATED.add(url)
    return engine


def _revision(engine: Engine) -> str | None:
    """The registry's schema revision (None: a new registry)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


_MIGRATED: set[str] = set()
