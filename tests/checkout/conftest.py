"""Fixtures for the shopper-page tests (shared with the browser tests through ``support``)."""

from tests.checkout.support import (  # noqa: F401  (fixtures)
    create_payment,
    demo_shop,
    fresh_rate_limits,
    shop,
)
