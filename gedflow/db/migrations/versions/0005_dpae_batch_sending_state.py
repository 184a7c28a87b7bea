"""dpae batch sending state

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dpae_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('envoi', sa.String(length=10), server_default='', nullable=False))
        batch_op.add_column(sa.Column('message_id', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('envoye_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('dpae_batch', schema=None) as batch_op:
        batch_op.drop_column('envoye_at')
        batch_op.drop_column('message_id')
        batch_op.drop_column('envoi')

