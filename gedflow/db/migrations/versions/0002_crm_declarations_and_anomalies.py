"""crm declarations and anomalies

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_declaration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifiant_crm', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('siren', sa.String(length=9), nullable=False),
    sa.Column('nic', sa.String(length=5), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('periode', sa.Date(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('personnes', sa.Integer(), nullable=False),
    sa.Column('sans_taux', sa.Integer(), nullable=False),
    sa.Column('statut', sa.String(length=20), nullable=False),
    sa.Column('raison', sa.Text(), server_default='', nullable=False),
    sa.Column('date_disponibilite', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_declaration'))
    )
    with op.batch_alter_table('crm_declaration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_declaration_siret'), ['siret'], unique=False)

    op.create_table('crm_anomalie',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crm_declaration_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('categorie', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('rubrique', sa.String(length=20), nullable=False),
    sa.Column('valeur', sa.Text(), nullable=False),
    sa.Column('nir', sa.String(length=15), nullable=False),
    sa.Column('ntt', sa.String(length=40), nullable=False),
    sa.Column('matricule', sa.String(length=30), nullable=False),
    sa.ForeignKeyConstraint(['crm_declaration_id'], ['crm_declaration.id'], name=op.f('fk_crm_anomalie_crm_declaration_id_crm_declaration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_anomalie'))
    )
    with op.batch_alter_table('crm_anomalie', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_anomalie_crm_declaration_id'), ['crm_declaration_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('crm_anomalie', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_anomalie_crm_declaration_id'))

    op.drop_table('crm_anomalie')
    with op.batch_alter_table('crm_declaration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_declaration_siret'))

    op.drop_table('crm_declaration')
