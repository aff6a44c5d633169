"""API keys that expire (rolled keys); events with previous_attributes and api_version

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 13:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# UTC timestamps; microseconds on MySQL/MariaDB so ordering by time is stable.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # A rolled key keeps working until then (NULL: until revoked).
    op.add_column('api_keys', sa.Column('expires_at', DATETIME, nullable=True))
    # What the event's change replaced (Stripe's data.previous_attributes); NULL when nothing did.
    op.add_column('events', sa.Column('previous_attributes', sa.JSON(), nullable=True))
    # The API version the event was rendered with; events written before it existed had the first.
    op.add_column(
        'events',
        sa.Column('api_version', sa.String(length=16), nullable=False, server_default='2026-11-21'),
    )


def downgrade():
    op.drop_column('events', 'api_version')
    op.drop_column('events', 'previous_attributes')
    op.drop_column('api_keys', 'expires_at')
