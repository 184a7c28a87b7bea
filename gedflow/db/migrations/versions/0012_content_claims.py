"""content claims: one ledger row per content (SHA-256) archived or in progress, by unique key

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contenu',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('ledger_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_contenu')),
    )
    op.execute("INSERT INTO contenu (sha256, ledger_id) SELECT sha256, MIN(id) FROM ledger "
               "WHERE outcome = 'archived' GROUP BY sha256")


def downgrade() -> None:
    op.drop_table('contenu')
