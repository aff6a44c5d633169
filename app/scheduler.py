"""Periodic jobs (reconciliation with Stripe, the expiry sweep), each run once per interval
however many workers there are.

Every job has a row in ``job_leases``. A worker takes a due job with one compare-and-set
``UPDATE job_leases SET locked_by = me, locked_until = now + lease, next_run_at = now + every
WHERE name = ? AND next_run_at <= now AND (locked_until IS NULL OR locked_until < now)``: of
several workers (on any number of machines) exactly one sees ``rowcount == 1`` and runs it; the
others find it no longer due. The run happens with no transaction open; its outcome is written
back to the row, where ``flask --app wsgi worker status`` reads it. A worker that dies mid-run
holds the lease until ``locked_until``, after which the job is due again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .db import unit_of_work
from .extensions import db
from .models import UTCDateTime, utcnow
from .observability.logs import redact
from .observability.metrics import JOB_RUNS
from .payments.expiry import sweep_expired_payments
from .payments.reconcile import reconcile
from .stripe_gateway import GatewayDown, stripe_gateways

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """A task run every ``every`` seconds across all workers. ``run`` returns a one-line summary
    of what it did; ``lease`` (seconds) bounds how long a crashed run blocks the next one."""

    name: str
    every: float
    run: Callable[[], str]
    lease: float = 600


class JobLease(db.Model):  # type: ignore[name-defined]
    """One periodic job's schedule, lease and last outcome (``succeeded``, ``stripe_unreachable``
    or ``failed``, with ``last_detail``: the job's summary or the error)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_outcome: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    last_detail: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    last_run_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


#: How far back each scheduled run reads Stripe's Events API (the CLI can go back 30 days).
RECONCILE_EVENTS_WINDOW = 3 * 86400


def _reconcile() -> str:
    return reconcile(stripe_gateways(), events_window=RECONCILE_EVENTS_WINDOW).summary()


def _sweep_expired() -> str:
    return sweep_expired_payments(stripe_gateways())


def periodic_jobs() -> list[PeriodicJob]:
    """What ``flask worker`` runs besides delivery: reconciliation with Stripe (missed webhooks,
    unsettled payments and refunds; :func:`app.payments.reconcile.reconcile`) every 5 minutes,
    and the expiry sweep every minute."""
    return [
        PeriodicJob("reconcile", 300, _reconcile, lease=1800),
        PeriodicJob("expiry_sweep", 60, _sweep_expired),
    ]


def run_due_jobs(worker_name: str, jobs: list[PeriodicJob] | None = None) -> list[str]:
    """Run each of ``jobs`` (default :func:`periodic_jobs`) that is due and that this worker
    wins the lease for; returns the names of the jobs it ran. Never raises for a job's failure:
    the outcome is logged, counted and stored on the job's row."""
    jobs = periodic_jobs() if jobs is None else jobs
    _ensure_rows(jobs)
    ran = []
    for job in jobs:
        if _claim(job, worker_name):
            _run(job, worker_name)
            ran.append(job.name)
    return ran


def _ensure_rows(jobs: list[PeriodicJob]) -> None:
    with unit_of_work():
        known = set(db.session.scalars(sa.select(JobLease.name)).all())
    for job in jobs:
        if job.name not in known:
            try:
                with unit_of_work():
                    db.session.execute(sa.insert(JobLease).values(name=job.name, next_run_at=utcnow()))
            except IntegrityError:  # another worker created it first
                pass


def _claim(job: PeriodicJob, worker_name: str) -> bool:
    now = utcnow()
    with unit_of_work():
        taken = db.session.execute(
            sa.update(JobLease)
            .where(
                JobLease.name == job.name,
                JobLease.next_run_at <= now,
                sa.or_(JobLease.locked_until.is_(None), JobLease.locked_until < now),
            )
            .values(
                locked_by=worker_name,
                locked_until=now + timedelta(seconds=job.lease),
                next_run_at=now + timedelta(seconds=job.every),
                last_started_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    return bool(taken == 1)


def _run(job: PeriodicJob, worker_name: str) -> None:
    try:
        outcome, detail = "succeeded", job.run()
        log.info("periodic job %s: %s", job.name, detail)
    except GatewayDown as exc:
        outcome, detail = "stripe_unreachable", f"Stripe unreachable: {exc}"
        log.warning("periodic job %s: Stripe unreachable (%s); will retry", job.name, exc)
    except Exception as exc:
        outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("periodic job %s failed", job.name)
    JOB_RUNS.labels(job.name, outcome).inc()
    with unit_of_work(fresh=True):  # fresh: nothing a failed run left behind is committed
        db.session.execute(
            sa.update(JobLease)
            .where(JobLease.name == job.name, JobLease.locked_by == worker_name)
            .values(
                locked_by=None,
                locked_until=None,
                last_finished_at=utcnow(),
                last_outcome=outcome,
                last_detail=redact(detail)[:500],
                last_run_by=worker_name,
            )
            .execution_options(synchronize_session=False)
        )


def job_statuses() -> dict[str, dict[str, Any]]:
    """Each job that has a row: ``{name: {"last_started_at", "last_finished_at", "last_outcome",
    "last_detail", "last_run_by", "running_on", "next_run_at"}}``, times as RFC 3339 strings."""

    def when(value: datetime | None) -> str | None:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None

    now = utcnow()
    with unit_of_work():
        rows = db.session.scalars(sa.select(JobLease).order_by(JobLease.name)).all()
    return {
        row.name: {
            "last_started_at": when(row.last_started_at),
            "last_finished_at": when(row.last_finished_at),
            "last_outcome": row.last_outcome,
            "last_detail": row.last_detail,
            "last_run_by": row.last_run_by,
            "running_on": row.locked_by if row.locked_until and row.locked_until > now else None,
            "next_run_at": when(row.next_run_at),
        }
        for row in rows
    }
