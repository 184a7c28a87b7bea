"""crm declarations: room for the kind taux_sur_taux (CRM of return nature 95)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite does not enforce VARCHAR lengths
    op.alter_column('crm_declaration', 'kind', type_=sa.String(length=20),
                    existing_type=sa.String(length=10), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column('crm_declaration', 'kind', type_=sa.String(length=10),
                    existing_type=sa.String(length=20), existing_nullable=False)
