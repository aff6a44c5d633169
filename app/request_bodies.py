"""Decoding and validating JSON request bodies: what every request schema shares.

:func:`decode_json_body` turns the raw body into JSON it is safe to validate; :func:`parse_model`
validates it with a :class:`StrictModel` and raises ``InvalidRequest(message, param=...)`` for
the first problem found, ``param`` being the path of the offending field (``order_id``,
``line_items[0].unit_amount``, ``metadata.cart``). The schemas themselves live with their
domain: :mod:`app.payments.schemas`, :mod:`app.notifications.endpoint_schemas`.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from app.errors import InvalidRequest

MAX_URL_LENGTH = 2048
"""Longest URL accepted in a request body (redirect URLs, webhook endpoints)."""


class StrictModel(BaseModel):
    """Base: no type coercion (``"15"``, ``15.0`` and ``true`` are not integers) and unknown
    fields rejected, so a client cannot smuggle in ``status`` or ``amount_total``."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


_Model = TypeVar("_Model", bound=BaseModel)


def parse_model(model: type[_Model], body: object, context: dict[str, Any] | None = None) -> _Model:
    """Validate ``body`` (decoded JSON) with ``model`` (``context`` goes to its validators).

    Raises ``InvalidRequest``: ``param`` ``None`` when ``body`` is not an object, else the path
    of the first invalid field, with Stripe's codes (:func:`_to_invalid_request`).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", param=None)
    try:
        return model.model_validate(body, context=context)
    except ValidationError as exc:
        raise _to_invalid_request(exc.errors(include_url=False)[0]) from None


def _to_invalid_request(error: Any) -> InvalidRequest:
    """Turn one pydantic error into an ``InvalidRequest`` naming the parameter: code
    ``parameter_missing`` for a missing one, ``parameter_unknown`` for one the model does not
    have, ``parameter_invalid`` otherwise (Stripe's codes, https://docs.stripe.com/error-codes)."""
    ctx = error.get("ctx") or {}
    param = ctx.get("param") or _param_path(error["loc"])
    if error["type"] == "missing":
        return InvalidRequest(f"Missing required parameter: {param}.", code="parameter_missing", param=param)
    if error["type"] == "extra_forbidden":
        return InvalidRequest(f"Unknown parameter: {param}.", code="parameter_unknown", param=param)
    return InvalidRequest(f"Invalid {param}: {error['msg'].rstrip('.')}.", param=param)


def _param_path(loc: tuple[str | int, ...]) -> str:
    """``("line_items", 0, "name")`` -> ``"line_items[0].name"``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path


MAX_JSON_DEPTH = 20
"""Deepest nesting of arrays and objects accepted in a request body (ours need 3)."""


def decode_json_body(raw: bytes) -> Any:
    """Decode a JSON request body and check it before any validation looks at it.

    Raises ``InvalidRequest``: ``parameter_invalid`` when ``raw`` is not JSON;
    ``json_too_deep`` when arrays/objects nest more than :data:`MAX_JSON_DEPTH` levels (deeper
    documents would exhaust Python's recursion limit further on); ``parameter_invalid`` naming
    the parameter (``metadata``, ``line_items[0].name``) when a key or string is not a sequence
    of Unicode scalar values, i.e. holds an unpaired surrogate escape such as ``"\\ud800"``
    (RFC 8259, section 8.2: such text cannot be stored or sent on as UTF-8), or holds NUL
    (``"\\u0000"``, which PostgreSQL cannot store in text).
    """
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:  # includes UnicodeDecodeError
        raise InvalidRequest(
            "The request body must be a JSON object (Content-Type: application/json)."
        ) from None
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(body, ())]
    while stack:
        value, loc = stack.pop()
        if len(loc) >= MAX_JSON_DEPTH and isinstance(value, dict | list):
            raise _too_deep()
        if isinstance(value, str):
            _check_unicode(value, loc)
        elif isinstance(value, list):
            stack.extend((item, (*loc, index)) for index, item in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_unicode(key, loc)
                stack.append((item, (*loc, key)))
    return body


def _too_deep() -> InvalidRequest:
    return InvalidRequest(
        f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep.",
        code="json_too_deep",
    )


def _check_unicode(text: str, loc: tuple[str | int, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problem = "text must be valid Unicode (no unpaired surrogates such as \\ud800)."
    else:
        if "\x00" not in text:
            return
        problem = "text must not contain NUL (\\u0000)."  # PostgreSQL cannot store it
    param = _param_path(loc) if loc else None
    where = f"Invalid {param}: " if param else "Invalid request body: "
    raise InvalidRequest(where + problem, param=param)
