"""Database statements per request on the hot paths (issue 9), counted as ``make bench`` counts them.

Bounds, not timings: each is the count measured when it was last lowered, so a change that
adds statements to a create, a ``/pay`` or a Stripe webhook fails here. Lower a bound when you
remove statements (the figures are in ``make bench``'s table).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from bench.counting import hot_path_counts

#: SQL statements (SELECT / INSERT / UPDATE / DELETE; no COMMIT, ROLLBACK or SQLite's BEGIN).
#: A create is 6, plus the UPDATE stamping a key's ``last_used_at`` (at most once a minute per key,
#: and on the first use, as here).
MAX_STATEMENTS = {"create": 7, "pay": 1, "webhook": 1}


def test_hot_paths_stay_within_their_statement_counts(app: Flask, merchant: Any) -> None:
    counts = hot_path_counts(app, merchant.api_key, app.config["STRIPE_WEBHOOK_SECRETS"][0])

    measured = {name: trips.total_statements for name, trips in counts.items()}
    assert all(measured[name] <= bound for name, bound in MAX_STATEMENTS.items()), measured
    # The create writes the payment, its Checkout Session and their timeline entries.
    assert counts["create"].statements["INSERT"] >= 1 and counts["create"].statements["UPDATE"] >= 1
    # The webhook records the event id.
    assert counts["webhook"].statements["INSERT"] == 1
