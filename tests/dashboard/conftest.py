"""Fixtures for the dashboard tests (shared with the browser tests through ``support``)."""

from tests.dashboard.support import (  # noqa: F401  (fixtures)
    _fresh_signin_limits,
    dashboard,
    make_payment,
    make_user,
)
