"""``make bench``: the service against a bare floor app and a quickstart-style peer, one run.

Everything runs on 127.0.0.1: a Stripe stand-in answering after a set latency
(:mod:`bench.stripe_standin`), the service under gunicorn and its production config on MariaDB,
the floor (:mod:`bench.floor`), the naive peer (:mod:`bench.naive`), wrk as the load generator
and a merchant webhook receiver (:mod:`bench.receiver`). :mod:`bench.run` drives it and prints
the table; figures are printed, never asserted.
"""
