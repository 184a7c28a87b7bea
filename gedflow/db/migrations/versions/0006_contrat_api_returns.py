"""contrat api returns

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contrat', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idflux', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('certificat', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('message_retour', sa.Text(), server_default='', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('contrat', schema=None) as batch_op:
        batch_op.drop_column('message_retour')
        batch_op.drop_column('certificat')
        batch_op.drop_column('idflux')

