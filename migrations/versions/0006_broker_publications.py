"""Broker publication state on events: published_at and a claim lease (EVENT_BROKER_URL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 12:00:00

Only adds columns and an index. Events already stored stay unpublished (null), so a broker
configured later receives the history too, oldest first.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# UTC timestamps; microseconds on MySQL/MariaDB so ordering by time is stable.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('broker_published_at', DATETIME, nullable=True))
        batch_op.add_column(sa.Column('broker_locked_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('broker_locked_until', DATETIME, nullable=True))
        batch_op.create_index('ix_events_broker_due', ['broker_published_at', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_broker_due')
        batch_op.drop_column('broker_locked_until')
        batch_op.drop_column('broker_locked_by')
        batch_op.drop_column('broker_published_at')
