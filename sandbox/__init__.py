"""Stripe sandbox: a Stripe-compatible HTTP simulator (placeholder docstring)."""

from .app import create_app

__all__ = ["create_app"]
