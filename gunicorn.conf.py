"""gunicorn settings for ``web`` (Procfile, Procfile.dev).

Worker model: gevent (measured; figures in tests/edge/test_gunicorn.py's output and the notes).
Every create waits on Stripe, and every shopper's success page does too. With threads, a fixed
pool is the limit: 40 creates waiting on a slow Stripe held all 2 x 16 threads and ``/pay`` waited
behind them, and gthread reads request headers in a pool thread with no time limit, so 40 clients
sending headers a byte at a time held the threads just as well. With gevent a waiting request
costs a greenlet, not a thread (``worker_connections`` of them per worker), and the request line
and headers must arrive within ``keepalive`` seconds or the connection is closed.

Checked under gevent's monkey-patching (done by the worker before the app is imported): PyMySQL
and requests (hence the stripe SDK's HTTP client and the merchant-webhook sender) and redis are
pure-Python socket users and yield while they wait; SQLAlchemy's pool and Flask-Limiter's memory
storage use the patched locks. SQLite is a C library that does not yield: a greenlet waiting for
its write lock blocks its whole worker for up to ``busy_timeout``. That is acceptable only because
no transaction is held across a network call (the project's rule); production runs MySQL.

Sizing (``make bench``, README "Performance"): a create costs ~16 ms of CPU and waits ~300 ms on
Stripe, so a worker is CPU-bound long before its greenlets run out: ``workers`` = cores, and
``worker_connections`` only bounds how many slow clients one worker holds. The database pool
(SQLAlchemy's default 5 + 10 overflow per worker) needs no more: no request holds a connection
while it waits on Stripe or a client, only for its short transactions (a create: three, each a
few ms), so 256 concurrent creates never waited out ``pool_timeout``. MariaDB's
``max_connections`` must cover workers x 15, plus the notification workers.
"""

import logging
import os
import re

import gunicorn.http.wsgi
from gunicorn.glogging import Logger

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
timeout = 30  # a worker whose loop stops for 30 s is restarted
graceful_timeout = 30
keepalive = 5  # also the time a client has to send its request line and headers (gevent)
limit_request_line = 4094  # bytes; our longest URL (a success URL) is about 100
limit_request_fields = 50
limit_request_field_size = 8190
# No gunicorn access log: the application writes one structured ``request`` line per request
# (method, path without its query string, status, duration, request and merchant ids;
# app/observability/logs.py), also for error answers. A second, unstructured line per request
# cost 0.07 ms of CPU each (a third of a ``/pay``'s logging) for nothing the first one lacks.
accesslog = None

# No "Server: gunicorn" banner. gunicorn 23 has no setting for it and always writes its own
# Server header (an application's would be sent as a second one), so the name it writes is
# replaced here, in the master, before the workers are forked.
gunicorn.http.wsgi.SERVER = "checkout"

_QUERY = re.compile(r"\?[^\s'\"]*")


def _redact_query_strings(record: logging.LogRecord) -> bool:
    """Logging filter: the record's message and traceback with every ``?query`` cut out."""
    record.msg, record.args = _QUERY.sub("?[redacted]", record.getMessage()), ()
    if record.exc_info:
        record.exc_text = _QUERY.sub("?[redacted]", logging.Formatter().formatException(record.exc_info))
    return True


class RedactingLogger(Logger):
    """gunicorn's error log without query strings: its error path logs whole request lines and
    URIs (``Invalid request from ip=…: Invalid HTTP Version …``, ``Error handling request
    /checkout/success?session_id=cs_…``)."""

    def setup(self, cfg):
        super().setup(cfg)
        self.error_log.addFilter(_redact_query_strings)


logger_class = RedactingLogger


# --- Prometheus multiprocess mode (app/observability/metrics.py) -------------------------------
# Each worker process writes its samples to files in PROMETHEUS_MULTIPROC_DIR and /metrics adds
# them up. The variable must be set before any worker imports prometheus_client, hence here. Left
# unset, each start gets a fresh private directory; if you set it, point it at an empty directory
# (emptied at every start) that the web processes (and, on one machine, the worker) share.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="checkout-metrics-")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):
    """A dead worker's live gauges must not be reported; its counters stay in the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# --- end of the Prometheus block ----------------------------------------------------------------
