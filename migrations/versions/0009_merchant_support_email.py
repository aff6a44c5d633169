"""Merchants: a support email address shown to shoppers on receipts

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-21 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('merchants') as batch_op:
        batch_op.add_column(sa.Column('support_email', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('merchants') as batch_op:
        batch_op.drop_column('support_email')
