"""The database driver yields to other greenlets while it waits for the server, under gevent's
monkey-patching as gunicorn's gevent workers apply it (gunicorn.conf.py): PyMySQL is pure Python
on patched sockets; psycopg 3 sees the patched ``select`` module when it is imported and then waits
through it instead of in C (psycopg.waiting). A driver that blocked would stall every request of
its worker process for as long as one query runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server_db

ROOT = Path(__file__).resolve().parents[2]
# Patch first, then import the driver (through SQLAlchemy), as a gunicorn gevent worker does.
SCRIPT = """
from gevent import monkey
monkey.patch_all()
import sys
import gevent
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
one_second = {"mysql": "SELECT SLEEP(1)", "postgresql": "SELECT pg_sleep(1)"}[engine.dialect.name]
ticks = 0
def tick():
    global ticks
    while True:
        gevent.sleep(0.01)
        ticks += 1
with engine.connect() as conn:
    conn.execute(sa.text("SELECT 1"))
    ticker = gevent.spawn(tick)
    conn.execute(sa.text(one_second))
    ticker.kill()
print(ticks)
"""


@pytest.mark.usefixtures("app")  # the app fixture (re)creates the database this test connects to
def test_other_greenlets_run_while_a_query_waits(database_url):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, database_url], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # Up to 100 ticks of 10 ms fit in the 1 s query; a blocking driver allows none.
    assert int(done.stdout) > 10, done.stdout
