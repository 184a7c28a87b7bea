"""registry version: a counter every change to employers, salariés or rates bumps (by trigger),
except new rates and a rate's validity, so a columnar copy of the registry knows when it is stale

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BUMP = "UPDATE registre_version SET version = version + 1 WHERE id = 1"
# (table, event): every change to who is employed where, and any rate change but an insert or
# an update of its CRM identifier, dates of availability and validity, or source.
WATCHED = [
    ("employeur", "INSERT"), ("employeur", "UPDATE"), ("employeur", "DELETE"),
    ("salarie", "INSERT"), ("salarie", "UPDATE"), ("salarie", "DELETE"),
    ("taux", "UPDATE OF salarie_id, taux_pas, type_taux, date_effet"), ("taux", "DELETE"),
]


def _name(table: str, event: str) -> str:
    return f"registre_version_{table}_{event.split()[0].lower()}"


def upgrade() -> None:
    op.create_table(
        'registre_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registre_version')),
    )
    op.execute("INSERT INTO registre_version (id, version) VALUES (1, 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE FUNCTION registre_version_bump() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {BUMP}; RETURN NULL; END $$")
    for table, event in WATCHED:
        if postgres:  # once per statement
            op.execute(f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION registre_version_bump()")
        else:  # SQLite has row triggers only (≈1.4 µs a row)
            op.execute(f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} "
                       f"BEGIN {BUMP}; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, event in WATCHED:
        op.execute(f"DROP TRIGGER {_name(table, event)}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION registre_version_bump()")
    op.drop_table('registre_version')
