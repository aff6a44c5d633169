"""Stripe's form wire format: bracket-notation keys <-> nested dicts and lists.

The SDK encodes ``{"line_items": [{"price_data": {"currency": "usd"}}]}`` as
``line_items[0][price_data][currency]=usd``; :func:`parse_params` reverses that.
"""

import re
from urllib.parse import parse_qsl

from .errors import invalid_param, missing_param

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_params(query):
    """Parse an urlencoded string with bracket keys into nested dicts/lists."""
    root = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY.match(key)
        if not match:
            root[key] = value
            continue
        path = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node = root
        for part in path[:-1]:
            part = part or str(len(node))
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1] or str(len(node))] = value
    return _listify(root)


def _listify(value):
    """Turn dicts whose keys are all integers into lists, recursively."""
    if not isinstance(value, dict):
        return value
    converted = {key: _listify(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def get_int(params, name, *, required=False, minimum=None, label=None):
    """Read an integer parameter, raising Stripe's errors for bad values."""
    label = label or name
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing_param(label)
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid_param(label, f"Invalid integer: {raw}", "parameter_invalid_integer") from None
    if minimum is not None and value < minimum:
        raise invalid_param(
            label,
            f"This value must be greater than or equal to {minimum}.",
            "parameter_invalid_integer",
        )
    return value


def get_str(params, name, *, required=False, label=None, choices=None):
    """Read a string parameter, optionally restricted to ``choices``."""
    label = label or name
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(label)
        return None
    if not isinstance(value, str):
        raise invalid_param(label, f"Invalid string: {value!r}")
    if choices is not None and value not in choices:
        allowed = ", ".join(f"`{choice}`" for choice in choices)
        raise invalid_param(label, f"Invalid {label}: must be one of {allowed}")
    return value


def get_bool(params, name, label=None):
    """Read a ``true``/``false`` form parameter; None when absent."""
    value = params.get(name)
    if value in (None, ""):
        return None
    if value not in ("true", "false"):
        raise invalid_param(label or name, f"Invalid boolean: {value}")
    return value == "true"


def get_currency(params, name, label=None):
    """Read a required three-letter ISO currency code, lower-cased as Stripe returns it."""
    label = label or name
    currency = get_str(params, name, required=True, label=label)
    if len(currency) != 3 or not currency.isalpha():
        raise invalid_param(label, f"Invalid currency: {currency}", "invalid_currency")
    return currency.lower()


def get_email(params, name):
    """Read an optional email address, refusing ones without a local part and a domain."""
    email = get_str(params, name)
    if email is not None and ("@" not in email or email.startswith("@") or email.endswith("@")):
        raise invalid_param(name, f"Invalid email address: {email}", "email_invalid")
    return email


def get_metadata(params, name="metadata", label=None):
    """Read and validate a metadata hash (Stripe's 50 keys / 40 / 500 char limits)."""
    label = label or name
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_param(label, "Invalid hash")
    if len(value) > 50:
        raise invalid_param(label, "Metadata can have at most 50 keys.")
    for key, item in value.items():
        if len(key) > 40:
            raise invalid_param(f"{label}[{key}]", "Metadata keys can be at most 40 characters.")
        if not isinstance(item, str):
            raise invalid_param(f"{label}[{key}]", "Metadata values must be strings.")
        if len(item) > 500:
            raise invalid_param(f"{label}[{key}]", "Metadata values can be at most 500 characters.")
    return {key: item for key, item in value.items() if item != ""}


def reject_unknown(params, allowed, prefix=""):
    """Raise Stripe's ``parameter_unknown`` error for unexpected keys."""
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise invalid_param(name, f"Received unknown parameter: {name}", "parameter_unknown")
