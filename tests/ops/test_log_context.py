"""A log line never touches the database.

The request's ids are added to every line by a structlog processor that runs inside the logging
handler's lock. ``g.merchant`` is expired by the request's first commit, so reading its ``id``
there used to reload it: a query from inside the logging lock. On SQLite that query begins with
``BEGIN IMMEDIATE``, and a thread holding the write lock that then logs waits on the logging
lock: the two wait for each other until ``busy_timeout`` (15 s) answers "database is locked"
(found by the chaos test, tests/integration/test_chaos.py). On any database it also opened a
transaction behind the code's back, right before a Stripe call.
"""

from __future__ import annotations

import logging

from sqlalchemy import event

from app.db import transaction_open
from app.extensions import db
from app.models import Merchant


def test_a_line_logged_after_a_commit_names_the_merchant_without_a_query(app, merchant, json_logs):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.test_request_context("/api/v1/payments"):
        from flask import g

        g.request_id = "req-log-1"
        g.merchant = db.session.get(Merchant, merchant.id)
        db.session.commit()  # expires g.merchant, as every unit of work of a request does
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            logging.getLogger("app.payments").warning("Stripe unreachable; stays pending")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert statements == []
        assert not transaction_open()
    line = next(r for r in json_logs.records() if r.get("request_id") == "req-log-1")
    assert line["merchant_id"] == merchant.id
