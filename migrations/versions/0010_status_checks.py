"""CHECK constraints on the status columns: the database refuses a status the code does not know

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 13:00:00

The values are frozen here (a migration must not change when the code does): payments and refunds
from app.payments.states, deliveries and webhook endpoints from app.models. SQLite cannot add a
constraint to a table, so batch mode recreates the table there: foreign key enforcement is off
meanwhile (SQLite, "ALTER TABLE": the old ``payments`` must be dropped while refunds and timeline
entries still point at it; the renamed copy satisfies them again), and checked afterwards.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

CHECKS = {
    'payments': ('ck_payments_status', (
        'pending', 'open', 'processing', 'succeeded', 'partially_refunded', 'refunded', 'failed', 'expired',
    )),
    'refunds': ('ck_refunds_status', ('pending', 'succeeded', 'failed', 'canceled')),
    'event_deliveries': ('ck_event_deliveries_status', ('pending', 'retrying', 'succeeded', 'failed')),
    'webhook_endpoints': ('ck_webhook_endpoints_status', ('enabled', 'disabled', 'deleted')),
}


def _condition(values):
    return 'status IN (' + ', '.join(f"'{value}'" for value in values) + ')'


def _sqlite_foreign_keys(enabled):
    """Switch SQLite's foreign key enforcement. The pragma is a no-op inside a transaction, so the
    migration's transaction is committed, the pragma set and a new transaction begun, on the raw
    connection: pysqlite runs with ``isolation_level = None`` here and every transaction begins
    explicitly (app.extensions.configure_sqlite), so Alembic's own ``autocommit_block`` would
    begin one again before the pragma."""
    raw = op.get_bind().connection.dbapi_connection
    if raw.in_transaction:
        raw.execute('COMMIT')
    raw.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    raw.execute('BEGIN IMMEDIATE')


def _recreate(change):
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        _sqlite_foreign_keys(False)
    for table, (name, values) in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            change(batch_op, name, values)
    if sqlite:
        broken = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if broken:
            raise RuntimeError(f'foreign keys broken by the migration: {broken}')
        _sqlite_foreign_keys(True)


def upgrade():
    _recreate(lambda batch_op, name, values: batch_op.create_check_constraint(name, _condition(values)))


def downgrade():
    _recreate(lambda batch_op, name, _values: batch_op.drop_constraint(name, type_='check'))
