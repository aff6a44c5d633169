"""Stripe-style lists, one helper for every list endpoint.

Query parameters (https://docs.stripe.com/api/pagination): ``limit`` (1-100), ``starting_after``
(the page after this id), ``ending_before`` (the page before this id), and ``created`` as an exact
Unix time or ``created[gt]``, ``created[gte]``, ``created[lt]``, ``created[lte]`` (seconds). Any
other query parameter that the endpoint does not declare is a 400 ``parameter_unknown``: a
misspelt filter must not silently return everything. The answer is
``{"object": "list", "url": <path>, "data": [...], "has_more": bool}``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import request

from ..errors import InvalidRequest
from ..extensions import db
from ..models import id_number

#: Query parameters every list takes.
CREATED_PARAMETERS = ("created", "created[gt]", "created[gte]", "created[lt]", "created[lte]")
LIST_PARAMETERS = frozenset({"limit", "starting_after", "ending_before", *CREATED_PARAMETERS})
#: The latest Unix time accepted in ``created`` filters (9999-12-31 23:59:58): adding a second
#: to it never overflows.
_MAX_UNIX_TIME = 253_402_300_798


def parse_limit(value: str | None) -> int:
    """The ``limit`` query parameter of list endpoints: 1-100, 20 when absent.

    Raises ``InvalidRequest(param="limit")`` for anything but a decimal integer in range.
    """
    if value is None:
        return 20
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 100):
        raise InvalidRequest(
            f"Invalid limit: Must be an integer between 1 and 100 (got {value!r}).",
            param="limit",
        )
    return int(value)


def reject_unknown_parameters(allowed: Collection[str]) -> None:
    """Raise ``InvalidRequest`` (code ``parameter_unknown``, ``param`` = its name) for the first
    query parameter not in ``allowed``."""
    for name in request.args:
        if name not in allowed:
            raise InvalidRequest(f"Received unknown parameter: {name}.", code="parameter_unknown", param=name)


def _unix_time(name: str, value: str) -> datetime:
    if not (value.isascii() and value.isdigit() and int(value) <= _MAX_UNIX_TIME):
        raise InvalidRequest(f"Invalid {name}: must be a Unix time in seconds (got {value!r}).", param=name)
    return datetime.fromtimestamp(int(value), UTC)


def _created_filters(created_at: Any) -> list[sa.ColumnElement[bool]]:
    """``created`` filters on whole seconds: ``created[lte]=T`` includes everything in second T."""
    second = timedelta(seconds=1)
    conditions = []
    for name, value in request.args.items():
        if name not in CREATED_PARAMETERS:
            continue
        moment = _unix_time(name, value)
        match name:
            case "created":
                conditions += [created_at >= moment, created_at < moment + second]
            case "created[gt]":
                conditions.append(created_at >= moment + second)
            case "created[gte]":
                conditions.append(created_at >= moment)
            case "created[lt]":
                conditions.append(created_at < moment)
            case "created[lte]":
                conditions.append(created_at < moment + second)
    return conditions


def _after(columns: Sequence[Any], values: Sequence[Any], *, descending: bool) -> sa.ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns`` (lexicographic keyset)."""
    first, rest = columns[0], columns[1:]
    beyond = first < values[0] if descending else first > values[0]
    if not rest:
        return beyond
    return sa.or_(beyond, sa.and_(first == values[0], _after(rest, values[1:], descending=descending)))


def _cursor(query: sa.Select[Any], model: Any, name: str, cursor_id: str, id_prefix: str) -> Any:
    """The row ``cursor_id`` of the (scoped) list; a 400 naming ``name`` if it is not in it.
    Numeric ids are shown as ``id_prefix`` + the number (``key_12``; the timeline: ``12``)."""
    numeric = isinstance(model.id.type, sa.Integer)
    number = None
    if cursor_id.startswith(id_prefix):
        number = id_number(cursor_id.removeprefix(id_prefix), model.id)
    row = None
    if not numeric or number is not None:
        row = db.session.scalars(query.where(model.id == (number if numeric else cursor_id))).first()
    if row is None:
        raise InvalidRequest(f"No such object: {cursor_id!r}.", param=name)
    return row


def each(serialize: Callable[[Any], dict[str, Any]]) -> Callable[[list[Any]], list[dict[str, Any]]]:
    """A page serializer from an object serializer (``payment_to_dict`` ...)."""
    return lambda rows: [serialize(row) for row in rows]


def paginate(
    query: sa.Select[Any],
    model: Any,
    serialize: Callable[[list[Any]], list[dict[str, Any]]],
    *,
    filters: Collection[str] = (),
    order_by: Sequence[str] = ("created_at", "id"),
    descending: bool = True,
    default_limit: int = 20,
    id_prefix: str = "",
) -> dict[str, Any]:
    """One page of ``query`` (already scoped to the merchant) as a Stripe list object.

    ``serialize`` turns the page's rows into objects at once (so that it can load what they
    need in one query; :func:`each` for one at a time). ``model`` has ``created_at`` and
    ``id``; rows are ordered by the ``order_by`` columns, newest first unless ``descending``
    is False. ``filters`` names the endpoint's own query parameters (which the caller applied
    to ``query``). Reads the parameters in the module doc; ``limit`` defaults to
    ``default_limit``; a numeric id is written ``id_prefix`` + number in cursors. With
    ``ending_before`` the page is the one just before the cursor, still in list order, and
    ``has_more`` says whether more come before it. Raises ``InvalidRequest``:
    ``parameter_unknown`` for an undeclared parameter, ``parameter_invalid`` for a bad limit,
    time or cursor (an id not in this list), or for both cursors at once.
    """
    reject_unknown_parameters(LIST_PARAMETERS | set(filters))
    limit = parse_limit(request.args["limit"]) if "limit" in request.args else default_limit
    columns = [getattr(model, name) for name in order_by]
    query = query.where(*_created_filters(model.created_at))
    starting_after, ending_before = request.args.get("starting_after"), request.args.get("ending_before")
    if starting_after is not None and ending_before is not None:
        raise InvalidRequest("Pass starting_after or ending_before, not both.", param="ending_before")
    backwards = ending_before is not None
    cursor_name = "ending_before" if backwards else "starting_after"
    if (cursor_id := ending_before if backwards else starting_after) is not None:
        cursor = _cursor(query, model, cursor_name, cursor_id, id_prefix)
        values = [getattr(cursor, name) for name in order_by]
        query = query.where(_after(columns, values, descending=descending != backwards))
    scan_descending = descending != backwards
    ordering = [column.desc() if scan_descending else column.asc() for column in columns]
    rows = list(db.session.scalars(query.order_by(*ordering).limit(limit + 1)).all())
    page = rows[:limit]
    if backwards:
        page.reverse()
    return {
        "object": "list",
        "url": request.path,
        "data": serialize(page),
        "has_more": len(rows) > limit,
    }
