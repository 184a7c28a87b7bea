"""registry version: also bumped by a change to, or the removal of, a communicated rate, so the
DSN controls can read the rates the CRMs communicated from a columnar copy (new rates are
added on top of the copy, as for `taux`)

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

BUMP = "UPDATE registre_version SET version = version + 1 WHERE id = 1"
WATCHED = ["UPDATE", "DELETE"]


def _name(event: str) -> str:
    return f"registre_version_taux_communique_{event.lower()}"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in WATCHED:
        if postgres:  # the function of 0008, once per transaction since 0015
            op.execute(f"CREATE TRIGGER {_name(event)} AFTER {event} ON taux_communique "
                       "FOR EACH STATEMENT EXECUTE FUNCTION registre_version_bump()")
        else:
            op.execute(f"CREATE TRIGGER {_name(event)} AFTER {event} ON taux_communique "
                       f"BEGIN {BUMP}; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in WATCHED:
        op.execute(f"DROP TRIGGER {_name(event)}" + (" ON taux_communique" if postgres else ""))
