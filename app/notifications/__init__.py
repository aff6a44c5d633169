"""Merchant notifications: the event outbox, webhook endpoints, signed delivery and the worker."""
