"""Fixtures for the shopper-page tests (shared with the browser tests through ``support``)."""

from tests.checkout.support import create_payment, demo_shop, fresh_rate_limits, shop  # noqa: F401  (fixtures)
