"""Stripe-style cursor pagination for list endpoints: ``limit`` and ``starting_after``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import request

from ..errors import InvalidRequest
from ..extensions import db
from ..payments.schemas import parse_limit


def paginate(query: sa.Select[Any], model: Any, serialize: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Run ``query`` (already scoped to the merchant) newest first, one page at a time.

    ``model`` needs ``created_at`` and ``id`` columns. Reads ``limit`` (1–100, default 20) and
    ``starting_after`` (an id from the same, scoped, list) from the query string. Returns
    ``{"object": "list", "data": [...], "has_more": bool}``; an unknown cursor is a 400.
    """
    limit = parse_limit(request.args.get("limit"))
    if (cursor_id := request.args.get("starting_after")) is not None:
        cursor = db.session.scalars(query.where(model.id == cursor_id)).first()
        if cursor is None:
            raise InvalidRequest(f"No such object: {cursor_id!r}.", param="starting_after")
        query = query.where(
            sa.or_(
                model.created_at < cursor.created_at,
                sa.and_(model.created_at == cursor.created_at, model.id < cursor.id),
            )
        )
    rows = db.session.scalars(query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)).all()
    return {
        "object": "list",
        "data": [serialize(row) for row in rows[:limit]],
        "has_more": len(rows) > limit,
    }
