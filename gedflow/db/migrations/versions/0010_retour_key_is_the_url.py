"""retrieved returns: keyed by their download URL (the id is the flux's, shared by natures)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite does not enforce VARCHAR lengths
    op.alter_column('retour_crm', 'retour_id', type_=sa.String(length=1000),
                    existing_type=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column('retour_crm', 'retour_id', type_=sa.String(length=64),
                    existing_type=sa.String(length=1000), existing_nullable=False)
