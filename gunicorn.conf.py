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
