"""The shape a Stripe event must have before this service reads it.

A payload with a valid ``Stripe-Signature`` is authentic, not necessarily readable: a future API
version, a bug or someone holding the signing secret can sign JSON that is not an event object.
:func:`parse_event` checks the members this service reads — the envelope (``id``, ``type``,
``created``, ``data.object.id``) for every event, and for the types it handles the snapshot
members it looks at (``client_reference_id``, ``metadata``, ``payment_intent``,
``latest_charge``, ``last_payment_error``) — with the types Stripe documents for them ("The
Event object", "The Checkout Session object", "The PaymentIntent object", "The Refund object").

Anything else raises :class:`EventMalformed`: the webhook answers ``400 event_malformed`` naming
the member, records nothing and changes nothing. 400 rather than "200 ignored", because Stripe
then keeps the delivery as failed (visible in the Dashboard) and retries it for up to three
days, so an event we cannot read yet is not lost once the code learns to read it; unlike a 500
it costs no stack trace and no rollback of half-done work.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from ..errors import InvalidRequest

#: Stripe object and event ids: letters, digits and underscores (``evt_1Q…``, ``cs_test_a1…``).
StripeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$", min_length=1, max_length=255)]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.]+$", min_length=1, max_length=100)]


class EventMalformed(InvalidRequest):
    """400: a signed payload that is not an event object this service can read."""

    code = "event_malformed"


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _Reference(_Shape):
    id: StripeId


class _PaymentError(_Shape):
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    type: str | None = None


class _Object(_Shape):
    id: StripeId


class _HandledObject(_Object):
    """The snapshot members read from a handled event's ``data.object``."""

    client_reference_id: str | None = None
    metadata: dict[str, str] | None = None
    payment_intent: StripeId | _Reference | None = None
    latest_charge: StripeId | _Reference | None = None
    last_payment_error: _PaymentError | None = None


class _Data(_Shape):
    object: _Object


class _HandledData(_Shape):
    object: _HandledObject


class _Event(_Shape):
    id: StripeId
    type: EventType
    created: int | None = None
    data: _Data


class _HandledEvent(_Event):
    data: _HandledData  # type: ignore[assignment]


def parse_event(payload: Any, handled_types: tuple[str, ...]) -> dict[str, Any]:
    """``payload`` (the signed body, parsed from JSON) as an event dict this service can read.

    Events of ``handled_types`` also have their snapshot members checked (module docstring).
    Returns ``payload`` itself. Raises :class:`EventMalformed` with ``param`` naming the first
    offending member (``id``, ``data.object.metadata``, ...).
    """
    if not isinstance(payload, dict):
        raise EventMalformed("The payload is not an event object.", param="event")
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError) as exc:
        raise EventMalformed("The payload is not valid UTF-8 JSON.", param="event") from exc
    shape = _HandledEvent if payload.get("type") in handled_types else _Event
    try:
        shape.model_validate(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"] if not _is_union_branch(part))
        raise EventMalformed(
            f"The event's {where or 'body'} is malformed: {error['msg']}.", param=where
        ) from None
    return payload


def _is_union_branch(part: str | int) -> bool:
    # pydantic names the union member it tried ("str", "_Reference", "constrained-str") in ``loc``.
    return isinstance(part, str) and (part[:1].isupper() or part in ("str", "int", "constrained-str"))
