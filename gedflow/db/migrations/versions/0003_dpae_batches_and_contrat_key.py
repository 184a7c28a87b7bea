"""dpae batches and contrat key

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dpae_batch',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=4), nullable=False),
    sa.Column('format', sa.String(length=4), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('contrats', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dpae_batch'))
    )
    with op.batch_alter_table('contrat', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_contrat_embauche', ['salarie_id', 'date_embauche', 'heure_embauche'])



def downgrade() -> None:
    with op.batch_alter_table('contrat', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contrat_embauche', type_='unique')

    op.drop_table('dpae_batch')
