"""What each CRM nominatif communicated per salarié, for the DSN controls (filled from the
rate history's CRM rows); what a DSN declaration's latest controls found

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'taux_communique',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('salarie_id', sa.Integer(), nullable=False),
        sa.Column('crm_declaration_id', sa.Integer(), nullable=True),
        sa.Column('identifiant_crm', sa.String(length=40), nullable=False),
        sa.Column('taux', sa.String(length=6), nullable=True),
        sa.Column('date_disponibilite', sa.Date(), nullable=False),
        sa.Column('date_effet', sa.Date(), nullable=True),
        sa.Column('valide_jusqu_au', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['salarie_id'], ['salarie.id'],
                                name=op.f('fk_taux_communique_salarie_id_salarie'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['crm_declaration_id'], ['crm_declaration.id'],
                                name=op.f('fk_taux_communique_crm_declaration_id_crm_declaration'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_taux_communique')),
    )
    op.create_index(op.f('ix_taux_communique_salarie_id'), 'taux_communique', ['salarie_id'])
    op.create_index(op.f('ix_taux_communique_crm_declaration_id'), 'taux_communique',
                    ['crm_declaration_id'])
    op.execute(
        "INSERT INTO taux_communique (salarie_id, identifiant_crm, taux, date_disponibilite, "
        "date_effet, valide_jusqu_au) SELECT salarie_id, identifiant_crm, taux_pas, "
        "date_disponibilite, date_effet, valide_jusqu_au FROM taux WHERE date_disponibilite IS "
        "NOT NULL AND valide_jusqu_au IS NOT NULL AND identifiant_crm <> ''")


    with op.batch_alter_table('dsn_declaration') as batch:
        for name in ('controle_erreurs', 'controle_avertissements', 'dpae_manquantes'):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('dsn_declaration') as batch:
        for name in ('controle_erreurs', 'controle_avertissements', 'dpae_manquantes'):
            batch.drop_column(name)
    op.drop_table('taux_communique')
