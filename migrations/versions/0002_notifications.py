"""Notifications: merchant events (outbox), webhook endpoints, messages and delivery attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:40:13.416891

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# UTC timestamps; microseconds on MySQL/MariaDB so ordering by time is stable.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('events',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('merchant_id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('payment_id', sa.String(length=32), nullable=True),
    sa.Column('refund_id', sa.String(length=32), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_merchant_created', ['merchant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_payment_id'), ['payment_id'], unique=False)

    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('merchant_id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('enabled_events', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('secret_version', sa.Integer(), nullable=False),
    sa.Column('previous_secret_version', sa.Integer(), nullable=True),
    sa.Column('previous_secret_expires_at', DATETIME, nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('flagged_at', DATETIME, nullable=True),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('event_deliveries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=32), nullable=False),
    sa.Column('endpoint_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', DATETIME, nullable=False),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('locked_until', DATETIME, nullable=True),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('updated_at', DATETIME, nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_event_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_deliveries_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_deliveries_event_id'), ['event_id'], unique=False)

    op.create_table('delivery_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.String(length=32), nullable=False),
    sa.Column('attempted_at', DATETIME, nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['event_deliveries.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempts_delivery_id'), ['delivery_id'], unique=False)



def downgrade():
    # Dropping a table drops its indexes; MySQL refuses to drop an index a foreign key needs.
    op.drop_table('delivery_attempts')
    op.drop_table('event_deliveries')
    op.drop_table('webhook_endpoints')
    op.drop_table('events')
