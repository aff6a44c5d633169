"""Binary ids: case- and trailing-space-sensitive collation for ids, keys, order ids, Stripe ids
and hashes on MySQL/MariaDB; payments.gateway_unavailable_at

MariaDB's default utf8mb4_general_ci made `Case-X` equal `case-X` (and `x` equal `x `): an order
conflicted with another, an Idempotency-Key replayed another's response, a Stripe event counted
as a duplicate of a different one (Stripe ids are case-sensitive). utf8mb4_bin is not enough: it
is a PAD SPACE collation ('a' = 'a ' is true); MariaDB's utf8mb4_nopad_bin (MySQL 8:
utf8mb4_0900_bin) compares bytes exactly. SQLite already compares them so (BINARY): no-op there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:30:00.000000

"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Every column holding an id, a key, an order id, a Stripe id or a hash (foreign keys included:
#: a foreign key and the key it references must share the collation).
COLUMNS = {
    "merchants": ["id"],
    "api_keys": ["merchant_id", "key_hash", "prefix"],
    "payments": [
        "id",
        "merchant_id",
        "order_id",
        "live_order_id",
        "request_fingerprint",
        "stripe_idempotency_key",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
    ],
    "refunds": ["id", "payment_id", "stripe_refund_id"],
    "payment_events": ["payment_id", "refund_id", "stripe_event_id", "stripe_object_id"],
    "stripe_events": ["id"],
    "idempotency_keys": ["merchant_id", "key", "request_fingerprint"],
    "events": ["id", "merchant_id", "payment_id", "refund_id"],
    "webhook_endpoints": ["id", "merchant_id"],
    "event_deliveries": ["id", "event_id", "endpoint_id", "locked_by"],
    "delivery_attempts": ["delivery_id"],
}

#: Exact (NO PAD) binary collations, preferred first: MariaDB's, then MySQL 8's.
BINARY_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")


def _binary_collation(conn):
    available = {row[0] for row in conn.exec_driver_sql("SHOW COLLATION WHERE Charset = 'utf8mb4'")}
    for name in BINARY_COLLATIONS:
        if name in available:
            return name
    raise RuntimeError("this MySQL/MariaDB server has no NO PAD binary utf8mb4 collation")


def _foreign_keys(conn):
    """Every foreign key of this database: (table, name, column, referenced table, referenced
    column, ON UPDATE, ON DELETE)."""
    return conn.exec_driver_sql(
        "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
        "k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE "
        "FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
        "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
        "AND r.TABLE_NAME = k.TABLE_NAME "
        "WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL"
    ).all()


def _set_collation(collation_for):
    """MODIFY every column of COLUMNS to the collation ``collation_for(table)``, keeping its
    type and nullability as the server reports them. MySQL/MariaDB refuse to change a column
    used by a foreign key (error 1833, even with FOREIGN_KEY_CHECKS = 0), so the foreign keys
    are dropped first and added back, unchanged, afterwards."""
    conn = op.get_bind()
    foreign_keys = _foreign_keys(conn)
    for fk in foreign_keys:
        conn.exec_driver_sql(f"ALTER TABLE `{fk[0]}` DROP FOREIGN KEY `{fk[1]}`")
    for table, columns in COLUMNS.items():
        found = {
            row.COLUMN_NAME: row
            for row in conn.execute(
                sa.text(
                    "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"
                ),
                {"table": table},
            )
        }
        changes = ", ".join(
            f"MODIFY `{name}` {found[name].COLUMN_TYPE} CHARACTER SET utf8mb4 "
            f"COLLATE {collation_for(table)} {'NULL' if found[name].IS_NULLABLE == 'YES' else 'NOT NULL'}"
            for name in columns
        )
        conn.exec_driver_sql(f"ALTER TABLE `{table}` {changes}")
    for table, name, column, ref_table, ref_column, on_update, on_delete in foreign_keys:
        conn.exec_driver_sql(
            f"ALTER TABLE `{table}` ADD CONSTRAINT `{name}` FOREIGN KEY (`{column}`) "
            f"REFERENCES `{ref_table}` (`{ref_column}`) ON UPDATE {on_update} ON DELETE {on_delete}"
        )


def upgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gateway_unavailable_at", DATETIME, nullable=True))
    if op.get_bind().dialect.name == "mysql":
        collation = _binary_collation(op.get_bind())
        _set_collation(lambda _table: collation)


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "mysql":
        defaults = dict(
            conn.exec_driver_sql(
                "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE()"
            ).all()
        )
        _set_collation(lambda table: defaults[table])
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("gateway_unavailable_at")
