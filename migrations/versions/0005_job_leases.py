"""Job leases: one row per periodic job, so that each runs once per interval across all workers

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-21 11:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# UTC timestamps; microseconds on MySQL/MariaDB so ordering by time is stable.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('next_run_at', DATETIME, nullable=False),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('locked_until', DATETIME, nullable=True),
    sa.Column('last_started_at', DATETIME, nullable=True),
    sa.Column('last_finished_at', DATETIME, nullable=True),
    sa.Column('last_outcome', sa.String(length=32), nullable=True),
    sa.Column('last_detail', sa.String(length=500), nullable=True),
    sa.Column('last_run_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade():
    op.drop_table('job_leases')
