"""Payment methods: the types the merchant asked for, and the details of the one that paid

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments') as batch_op:
        batch_op.add_column(sa.Column('payment_method_types', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('payment_method_details', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('payments') as batch_op:
        batch_op.drop_column('payment_method_details')
        batch_op.drop_column('payment_method_types')
