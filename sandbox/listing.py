"""Expansion (``expand[]``) and pagination of Stripe list objects."""

import copy
import fnmatch

from . import objects
from .errors import StripeError, invalid_param, no_such
from .wire import get_int

# object type -> expandable field -> type of the object its id refers to
EXPANDABLE = {
    "checkout.session": {"payment_intent": "payment_intent", "line_items": None, "customer": "customer"},
    "payment_intent": {"latest_charge": "charge", "customer": "customer"},
    "charge": {"payment_intent": "payment_intent", "customer": "customer"},
    "refund": {"charge": "charge", "payment_intent": "payment_intent"},
    "price": {"product": "product"},
    "item": {"price": None},
}


def expand(state, obj, paths):
    """Return a deep copy of ``obj`` with each dotted path in ``paths`` expanded."""
    obj = copy.deepcopy(obj)
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list):
        raise invalid_param("expand", "Invalid array")
    for path in paths:
        _expand_path(state, obj, path.split("."))
    return obj


def _expand_path(state, obj, parts):
    field, rest = parts[0], parts[1:]
    if obj.get("object") == "list" and field == "data":
        for item in obj["data"]:
            if rest:
                _expand_path(state, item, rest)
        return
    kinds = EXPANDABLE.get(obj.get("object"), {})
    if field not in kinds:
        raise invalid_param("expand", f"This property cannot be expanded ({field}).")
    if obj["object"] == "checkout.session" and field == "line_items":
        value = session_line_items(state, obj["id"])
    elif kinds[field] is None:  # already embedded (a line item's price): expand inside it
        value = obj.get(field)
    else:
        value = obj.get(field)
        if isinstance(value, str):
            value = copy.deepcopy(state.get(kinds[field], value))
    obj[field] = value
    if rest and isinstance(value, dict):
        _expand_path(state, value, rest)


def session_line_items(state, session_id, params=None):
    """The line items of a session as a (paginated) list object, in creation order."""
    state.get("checkout.session", session_id)
    items = state.line_items[session_id]
    url = f"/v1/checkout/sessions/{session_id}/line_items"
    if params is None:
        return objects.list_object(url, copy.deepcopy(items))
    return paginate(items, params, url, "line item")


def paginate(items, params, url, kind):
    """Apply ``limit``, ``starting_after`` and ``ending_before`` to ordered ``items``."""
    limit = get_int(params, "limit", minimum=1)
    limit = 10 if limit is None else limit
    if limit > 100:
        raise invalid_param(
            "limit", "This value must be less than or equal to 100.", "parameter_invalid_integer"
        )
    ids = [item["id"] for item in items]
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise StripeError("You may only specify one of these parameters: starting_after, ending_before.")
    if before:
        end = _position(ids, before, "ending_before", kind)
        start = max(0, end - limit)
        page, has_more = items[start:end], start > 0
    else:
        start = _position(ids, after, "starting_after", kind) + 1 if after else 0
        page, has_more = items[start : start + limit], start + limit < len(items)
    return objects.list_object(url, copy.deepcopy(page), has_more)


def _position(ids, object_id, param, kind):
    try:
        return ids.index(object_id)
    except ValueError:
        raise no_such(kind, object_id, param=param) from None


def created_filter(params, name="created"):
    """Build a predicate for Stripe's ``created`` (int or gt/gte/lt/lte hash) filter."""
    value = params.get(name)
    if value in (None, ""):
        return lambda created: True
    if not isinstance(value, dict):
        exact = get_int(params, name)
        return lambda created: created == exact
    bounds = {}
    for op in value:
        if op not in ("gt", "gte", "lt", "lte"):
            raise invalid_param(
                f"{name}[{op}]", f"Received unknown parameter: {name}[{op}]", "parameter_unknown"
            )
        bounds[op] = get_int(value, op, label=f"{name}[{op}]")
    checks = {
        "gt": lambda c, b: c > b,
        "gte": lambda c, b: c >= b,
        "lt": lambda c, b: c < b,
        "lte": lambda c, b: c <= b,
    }
    return lambda created: all(checks[op](created, bound) for op, bound in bounds.items())


def type_filter(params):
    """Build a predicate for the events list ``type`` / ``types[]`` filters (``*`` wildcards)."""
    single, several = params.get("type"), params.get("types")
    if single and several:
        raise StripeError("You cannot specify both `type` and `types`.", param="types")
    patterns = [single] if single else several or []
    if isinstance(patterns, str) or not isinstance(patterns, list):
        raise invalid_param("types", "Invalid array")
    if len(patterns) > 20:
        raise invalid_param("types", "You may only specify up to 20 event types.")
    if not patterns:
        return lambda event_type: True
    return lambda event_type: any(fnmatch.fnmatchcase(event_type, p) for p in patterns)
