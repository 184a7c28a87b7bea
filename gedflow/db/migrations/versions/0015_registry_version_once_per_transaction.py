"""registry version: on PostgreSQL, bumped once per transaction rather than once per statement
(an import of 100,000 salariés is 100,000 statements, and as many versions of one row: the
import grew with the square of its size)

A transaction-local setting says the version was bumped; reading the version
(`gedflow.registry.snapshot`) clears it, so a change made after a read within the same
transaction bumps again. SQLite's row triggers are unchanged (it updates the row in place).

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

BUMP = "UPDATE registre_version SET version = version + 1 WHERE id = 1"
ONCE = ("IF current_setting('gedflow.registre_modifie', true) IS DISTINCT FROM 'oui' THEN "
        f"{BUMP}; PERFORM set_config('gedflow.registre_modifie', 'oui', true); END IF;")


def _function(body: str) -> None:
    op.execute("CREATE OR REPLACE FUNCTION registre_version_bump() RETURNS trigger "
               f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _function(ONCE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _function(f"{BUMP};")
