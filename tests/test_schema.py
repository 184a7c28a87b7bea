"""The migrations and the tables agree: a registry migrated to the head has exactly the
tables, columns and indexes `gedflow.db.tables` declares (SQLite and PostgreSQL), and
the head revision gedflow checks without Alembic is Alembic's own."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from gedflow.db.engine import HEAD, _revision, alembic_config
from gedflow.db.tables import metadata


def test_head_is_alembics(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    assert HEAD == script.get_current_head()
    assert _revision(engine) == HEAD  # the fixture's registry is migrated


def test_migrated_schema_is_the_declared_one(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []
