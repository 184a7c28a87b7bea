"""crm retrieval: downloaded returns and each user's retrieval cursor

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'retour_crm',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('retour_id', sa.String(length=64), nullable=False),
        sa.Column('utilisateur', sa.String(length=64), nullable=False),
        sa.Column('publication', sa.DateTime(timezone=True), nullable=True),
        sa.Column('fichier', sa.Text(), nullable=False),
        sa.Column('recupere_le', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retour_crm')),
        sa.UniqueConstraint('retour_id', name=op.f('uq_retour_crm_retour_id')),
    )
    op.create_table(
        'recuperation',
        sa.Column('utilisateur', sa.String(length=64), nullable=False),
        sa.Column('jusqu_au', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('utilisateur', name=op.f('pk_recuperation')),
    )


def downgrade() -> None:
    op.drop_table('recuperation')
    op.drop_table('retour_crm')
