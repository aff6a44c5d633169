"""Dashboard: users, API key last use, indexes for the dashboard's lists

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 12:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# UTC timestamps; microseconds on MySQL/MariaDB so ordering by time is stable.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _id_type():
    """Ids compare byte for byte (0003): on MySQL/MariaDB take merchants.id's collation, which a
    foreign key to it must share anyway."""
    conn = op.get_bind()
    if conn.dialect.name != "mysql":
        return sa.String(length=32)
    collation = conn.exec_driver_sql(
        "SELECT COLLATION_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'merchants' AND COLUMN_NAME = 'id'"
    ).scalar()
    return mysql.VARCHAR(32, charset="utf8mb4", collation=collation)


def upgrade():
    id_type = _id_type()
    op.create_table('users',
    sa.Column('id', id_type, nullable=False),
    sa.Column('merchant_id', id_type, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('last_sign_in_at', DATETIME, nullable=True),
    sa.Column('disabled_at', DATETIME, nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_merchant_id'), ['merchant_id'], unique=False)

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_used_at', DATETIME, nullable=True))

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_merchant_status_created', ['merchant_id', 'status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_payments_merchant_order', ['merchant_id', 'order_id'], unique=False)
        batch_op.create_index('ix_payments_merchant_email', ['merchant_id', 'customer_email'], unique=False)
        batch_op.create_index('ix_payments_merchant_figures', ['merchant_id', 'created_at', 'status', 'currency', 'amount_total'], unique=False)

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index('ix_refunds_created', ['created_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_created')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_merchant_figures')
        batch_op.drop_index('ix_payments_merchant_email')
        batch_op.drop_index('ix_payments_merchant_order')
        batch_op.drop_index('ix_payments_merchant_status_created')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')

    op.drop_table('users')  # with its indexes (MariaDB refuses to drop the FK's index first)
