"""gunicorn settings for ``web`` (Procfile). Every create waits on Stripe, so workers are threaded:
a request blocked on Stripe holds one thread, not a whole process."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
timeout = 30  # Stripe calls time out after 10 s with at most 2 retries
graceful_timeout = 30
keepalive = 5
accesslog = "-"
# Never log query strings: success URLs carry session ids, and nothing secret belongs in logs.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(D)sus'

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
