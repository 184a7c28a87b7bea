"""DSN intake: declarations read (one row per declaration identity, unique), the PAS payroll
applied per versement, and the contract facts a DSN gives

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dsn_declaration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('siret', sa.String(length=14), nullable=False),
        sa.Column('mois', sa.Date(), nullable=True),
        sa.Column('nature', sa.String(length=2), nullable=False),
        sa.Column('type', sa.String(length=2), nullable=False),
        sa.Column('fraction', sa.String(length=2), nullable=False),
        sa.Column('ordre', sa.String(length=10), nullable=False),
        sa.Column('date_constitution', sa.String(length=8), nullable=False),
        sa.Column('identifiant_metier', sa.String(length=15), nullable=False),
        sa.Column('essai_reel', sa.String(length=4), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('individus', sa.Integer(), nullable=False),
        sa.Column('contrats', sa.Integer(), nullable=False),
        sa.Column('versements', sa.Integer(), nullable=False),
        sa.Column('statut', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dsn_declaration')),
    )
    op.create_index('uq_dsn_declaration_identite', 'dsn_declaration',
                    ['siret', 'nature', 'mois', 'fraction', 'ordre', 'date_constitution',
                     'essai_reel'], unique=True)
    op.create_table(
        'versement_pas',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dsn_declaration_id', sa.Integer(), nullable=False),
        sa.Column('salarie_id', sa.Integer(), nullable=False),
        sa.Column('date_versement', sa.Date(), nullable=True),
        sa.Column('remuneration_nette_fiscale', sa.String(length=16), nullable=False),
        sa.Column('taux', sa.String(length=6), nullable=False),
        sa.Column('type_taux', sa.String(length=2), nullable=False),
        sa.Column('identifiant_taux', sa.String(length=18), nullable=False),
        sa.Column('montant_pas', sa.String(length=16), nullable=False),
        sa.Column('montant_soumis', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['dsn_declaration_id'], ['dsn_declaration.id'],
                                name=op.f('fk_versement_pas_dsn_declaration_id_dsn_declaration'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['salarie_id'], ['salarie.id'],
                                name=op.f('fk_versement_pas_salarie_id_salarie'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_versement_pas')),
    )
    op.create_index('ix_versement_pas_salarie_id', 'versement_pas', ['salarie_id'])
    op.create_index('ix_versement_pas_dsn_declaration_id', 'versement_pas',
                    ['dsn_declaration_id'])
    with op.batch_alter_table('contrat') as batch:
        batch.add_column(sa.Column('nature_dsn', sa.String(length=2), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('numero_contrat', sa.String(length=20), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('fin_prevue', sa.Date(), nullable=True))
        batch.add_column(sa.Column('date_fin_reelle', sa.Date(), nullable=True))
        batch.add_column(sa.Column('motif_fin', sa.String(length=3), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('contrat') as batch:
        for column in ('motif_fin', 'date_fin_reelle', 'fin_prevue', 'numero_contrat',
                       'nature_dsn'):
            batch.drop_column(column)
    op.drop_table('versement_pas')
    op.drop_index('uq_dsn_declaration_identite', table_name='dsn_declaration')
    op.drop_table('dsn_declaration')
