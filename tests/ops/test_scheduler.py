"""Periodic jobs run once per interval however many workers there are (a lease row per job),
and ``flask worker status`` shows when each last ran and how it went."""

from __future__ import annotations

import json
import threading
import time

from app.extensions import db
from app.scheduler import PeriodicJob, run_due_jobs
from app.stripe_gateway import GatewayDown


def test_concurrent_workers_run_a_due_job_once(app):
    runs: list[str] = []
    job = PeriodicJob("count", 60, lambda: runs.append("run") or "counted")
    start = threading.Barrier(6)
    ran: dict[str, list[str]] = {}

    def worker(name: str) -> None:
        with app.app_context():
            start.wait()
            ran[name] = run_due_jobs(name, [job])
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert runs == ["run"]
    assert sorted(len(names) for names in ran.values()) == [0, 0, 0, 0, 0, 1]


def test_a_job_runs_again_only_after_its_interval(app):
    runs: list[float] = []
    job = PeriodicJob("tick", 0.5, lambda: runs.append(time.monotonic()) or "ticked")
    with app.app_context():
        assert run_due_jobs("a", [job]) == ["tick"]
        assert run_due_jobs("b", [job]) == []  # within the interval, on another worker
        time.sleep(0.6)
        assert run_due_jobs("b", [job]) == ["tick"]
    assert len(runs) == 2


def failing() -> str:
    raise RuntimeError("the ledger is on fire")


def stripe_down() -> str:
    raise GatewayDown("connection refused")


def test_worker_status_shows_each_jobs_last_run_and_outcome(app):
    jobs = [
        PeriodicJob("fine", 60, lambda: "3 things checked"),
        PeriodicJob("broken", 60, failing),
        PeriodicJob("offline", 60, stripe_down),
    ]
    with app.app_context():
        assert run_due_jobs("host:42", jobs) == ["fine", "broken", "offline"]
    result = app.test_cli_runner().invoke(args=["worker", "status"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["pending"] == 0
    jobs_shown = status["jobs"]
    assert jobs_shown["fine"]["last_outcome"] == "succeeded"
    assert jobs_shown["fine"]["last_detail"] == "3 things checked"
    assert jobs_shown["fine"]["last_run_by"] == "host:42" and jobs_shown["fine"]["running_on"] is None
    assert jobs_shown["fine"]["last_finished_at"].endswith("Z")
    assert jobs_shown["broken"]["last_outcome"] == "failed"
    assert jobs_shown["broken"]["last_detail"] == "RuntimeError: the ledger is on fire"
    assert jobs_shown["offline"]["last_outcome"] == "stripe_unreachable"


def test_the_default_jobs_run_against_the_sandbox(app, sandbox_ctl):
    with app.app_context():
        assert run_due_jobs("host:1") == ["reconcile", "expiry_sweep"]
    status = json.loads(app.test_cli_runner().invoke(args=["worker", "status"]).output)
    assert status["jobs"]["reconcile"]["last_outcome"] == "succeeded", status
    assert status["jobs"]["reconcile"]["last_detail"].startswith("reconcile: 0 events processed")
    sweep = status["jobs"]["expiry_sweep"]["last_detail"]
    assert sweep == "expiry sweep: 0 overdue payments checked, 0 errors"
