"""initial registry

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dossier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('libelle', sa.String(length=200), server_default='', nullable=False),
    sa.Column('phase', sa.String(length=16), server_default='etape_4', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier')),
    sa.UniqueConstraint('code', name=op.f('uq_dossier_code'))
    )
    op.create_table('ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('claim_path', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('final_path', sa.Text(), nullable=True),
    sa.Column('report_path', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger')),
    sa.UniqueConstraint('claim_path', name=op.f('uq_ledger_claim_path'))
    )
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_sha256'), ['sha256'], unique=False)

    op.create_table('transfer_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('destination', sa.String(length=64), nullable=False),
    sa.Column('options', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_audit'))
    )
    op.create_table('employeur',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('raison_sociale', sa.String(length=64), nullable=False),
    sa.Column('ape', sa.String(length=5), server_default='', nullable=False),
    sa.Column('adresse1', sa.String(length=32), server_default='', nullable=False),
    sa.Column('adresse2', sa.String(length=32), server_default='', nullable=False),
    sa.Column('code_postal', sa.String(length=5), server_default='', nullable=False),
    sa.Column('ville', sa.String(length=27), server_default='', nullable=False),
    sa.Column('telephone', sa.String(length=11), server_default='', nullable=False),
    sa.Column('code_urssaf', sa.String(length=3), server_default='', nullable=False),
    sa.Column('code_sst', sa.String(length=10), server_default='', nullable=False),
    sa.Column('email_ar', sa.String(length=120), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_employeur_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employeur')),
    sa.UniqueConstraint('dossier_id', 'siret', name='uq_employeur_dossier_siret')
    )
    op.create_table('salarie',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employeur_id', sa.Integer(), nullable=False),
    sa.Column('matricule', sa.String(length=30), nullable=False),
    sa.Column('nir', sa.String(length=15), server_default='', nullable=False),
    sa.Column('nom', sa.String(length=64), nullable=False),
    sa.Column('nom_usage', sa.String(length=64), server_default='', nullable=False),
    sa.Column('prenoms', sa.String(length=64), server_default='', nullable=False),
    sa.Column('sexe', sa.String(length=1), server_default='', nullable=False),
    sa.Column('date_naissance', sa.Date(), nullable=True),
    sa.Column('lieu_naissance', sa.String(length=64), server_default='', nullable=False),
    sa.Column('dept_naissance', sa.String(length=3), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['employeur_id'], ['employeur.id'], name=op.f('fk_salarie_employeur_id_employeur'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salarie')),
    sa.UniqueConstraint('employeur_id', 'matricule', name='uq_salarie_employeur_matricule')
    )
    op.create_table('contrat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('salarie_id', sa.Integer(), nullable=False),
    sa.Column('date_embauche', sa.Date(), nullable=False),
    sa.Column('heure_embauche', sa.String(length=5), server_default='', nullable=False),
    sa.Column('nature', sa.String(length=3), nullable=False),
    sa.Column('date_fin', sa.Date(), nullable=True),
    sa.Column('essai_jours', sa.Integer(), nullable=True),
    sa.Column('statut', sa.String(length=30), server_default='a_declarer', nullable=False),
    sa.Column('batch_id', sa.String(length=40), server_default='', nullable=False),
    sa.Column('numero_dossier', sa.String(length=5), server_default='', nullable=False),
    sa.Column('code_retour', sa.String(length=2), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['salarie_id'], ['salarie.id'], name=op.f('fk_contrat_salarie_id_salarie'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contrat'))
    )
    with op.batch_alter_table('contrat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contrat_salarie_id'), ['salarie_id'], unique=False)

    op.create_table('taux',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('salarie_id', sa.Integer(), nullable=False),
    sa.Column('taux_pas', sa.String(length=6), nullable=True),
    sa.Column('type_taux', sa.String(length=2), server_default='01', nullable=False),
    sa.Column('identifiant_crm', sa.String(length=40), server_default='', nullable=False),
    sa.Column('date_disponibilite', sa.Date(), nullable=True),
    sa.Column('date_effet', sa.Date(), nullable=True),
    sa.Column('valide_jusqu_au', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=400), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['salarie_id'], ['salarie.id'], name=op.f('fk_taux_salarie_id_salarie'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taux'))
    )
    with op.batch_alter_table('taux', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taux_salarie_id'), ['salarie_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('taux', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taux_salarie_id'))

    op.drop_table('taux')
    with op.batch_alter_table('contrat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contrat_salarie_id'))

    op.drop_table('contrat')
    op.drop_table('salarie')
    op.drop_table('employeur')
    op.drop_table('transfer_audit')
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_sha256'))

    op.drop_table('ledger')
    op.drop_table('dossier')
