"""crm declarations: one row per CRM identity, enforced by a unique key

The identity of a CRM's declaration is its identifiant (or, for a CRM without one, the file's
hash) with SIREN and NIC: `identite` + siren + nic, unique. Rows recorded twice by the race
this key closes are merged first (the first kept, with its anomalies).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

IDENTITY = ("CASE WHEN identifiant_crm <> '' THEN identifiant_crm "
            "ELSE 'sha256:' || sha256 END")
LATER_COPIES = ("SELECT d.id FROM crm_declaration d WHERE EXISTS (SELECT 1 FROM crm_declaration"
                " e WHERE e.identite = d.identite AND e.siren = d.siren AND e.nic = d.nic"
                " AND e.id < d.id)")


def upgrade() -> None:
    with op.batch_alter_table('crm_declaration') as batch:
        batch.add_column(sa.Column('identite', sa.String(length=80), nullable=False,
                                   server_default=''))
    op.execute(f"UPDATE crm_declaration SET identite = {IDENTITY}")
    op.execute(f"DELETE FROM crm_anomalie WHERE crm_declaration_id IN ({LATER_COPIES})")
    op.execute(f"DELETE FROM crm_declaration WHERE id IN ({LATER_COPIES})")
    op.create_index('uq_crm_declaration_identite', 'crm_declaration',
                    ['identite', 'siren', 'nic'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_crm_declaration_identite', table_name='crm_declaration')
    with op.batch_alter_table('crm_declaration') as batch:
        batch.drop_column('identite')
