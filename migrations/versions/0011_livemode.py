"""Test mode: ``livemode`` on payments, API keys, merchant events, webhook endpoints and idempotency
keys; one live payment per (merchant, mode, order) and idempotency keys per mode

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21 15:00:00

Every existing row was made against the one configured Stripe account, which is the live one
(``STRIPE_SECRET_KEY``), so the column's server default backfills ``livemode = true``. The unique
constraints gain ``livemode``: the new one is created before the old one is dropped, because on
MariaDB the old one is the index that backs the ``merchant_id`` foreign key (the new one starts with
``merchant_id`` too). SQLite recreates the tables in batch mode, foreign key enforcement off meanwhile
(as in 0010). Downgrading deletes every test-mode object first (they would otherwise become live).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLES = ('payments', 'api_keys', 'events', 'webhook_endpoints', 'idempotency_keys')
#: table -> (old constraint, its columns, new constraint, its columns)
UNIQUES = {
    'payments': (
        'uq_payments_live_order', ['merchant_id', 'live_order_id'],
        'uq_payments_mode_live_order', ['merchant_id', 'livemode', 'live_order_id'],
    ),
    'idempotency_keys': (
        'uq_idempotency_merchant_key', ['merchant_id', 'key'],
        'uq_idempotency_merchant_mode_key', ['merchant_id', 'livemode', 'key'],
    ),
}


def _sqlite_foreign_keys(enabled):
    """As in 0010: the pragma is a no-op inside a transaction, so commit, set it, begin again."""
    raw = op.get_bind().connection.dbapi_connection
    if raw.in_transaction:
        raw.execute('COMMIT')
    raw.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    raw.execute('BEGIN IMMEDIATE')


def _in_batches(change):
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        _sqlite_foreign_keys(False)
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            change(table, batch_op)
    if sqlite:
        broken = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if broken:
            raise RuntimeError(f'foreign keys broken by the migration: {broken}')
        _sqlite_foreign_keys(True)


#: The home page's figures are read from this index alone: it gains ``livemode`` (after the merchant).
FIGURES_INDEX = 'ix_payments_merchant_figures'
FIGURES_COLUMNS = ['merchant_id', 'created_at', 'status', 'currency', 'amount_total']


def _add(table, batch_op):
    batch_op.add_column(sa.Column('livemode', sa.Boolean(), nullable=False, server_default=sa.true()))
    if table == 'payments':
        batch_op.drop_index(FIGURES_INDEX)
        batch_op.create_index(FIGURES_INDEX, ['merchant_id', 'livemode', *FIGURES_COLUMNS[1:]], unique=False)
    if table in UNIQUES:
        old, _old_columns, new, new_columns = UNIQUES[table]
        batch_op.create_unique_constraint(new, new_columns)
        batch_op.drop_constraint(old, type_='unique')


def _drop(table, batch_op):
    if table == 'payments':
        batch_op.drop_index(FIGURES_INDEX)
        batch_op.create_index(FIGURES_INDEX, FIGURES_COLUMNS, unique=False)
    if table in UNIQUES:
        old, old_columns, new, _new_columns = UNIQUES[table]
        batch_op.create_unique_constraint(old, old_columns)
        batch_op.drop_constraint(new, type_='unique')
    batch_op.drop_column('livemode')


def upgrade():
    _in_batches(_add)


#: Downgrading deletes test-mode objects (children first): kept, they would turn into live ones.
TEST_ROWS = (
    'DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM event_deliveries WHERE event_id IN '
    '(SELECT id FROM events WHERE livemode = false) OR endpoint_id IN '
    '(SELECT id FROM webhook_endpoints WHERE livemode = false))',
    'DELETE FROM event_deliveries WHERE event_id IN (SELECT id FROM events WHERE livemode = false) '
    'OR endpoint_id IN (SELECT id FROM webhook_endpoints WHERE livemode = false)',
    'DELETE FROM events WHERE livemode = false',
    'DELETE FROM webhook_endpoints WHERE livemode = false',
    'DELETE FROM payment_events WHERE payment_id IN (SELECT id FROM payments WHERE livemode = false)',
    'DELETE FROM refunds WHERE payment_id IN (SELECT id FROM payments WHERE livemode = false)',
    'DELETE FROM payments WHERE livemode = false',
    'DELETE FROM api_keys WHERE livemode = false',
    'DELETE FROM idempotency_keys WHERE livemode = false',
)


def downgrade():
    for statement in TEST_ROWS:
        op.execute(statement)
    _in_batches(_drop)
