"""Validation of the merchant API's payment and refund bodies.

Each ``parse_*`` function takes the decoded request body, returns a validated pydantic model
and raises ``InvalidRequest(message, param=...)`` for the first problem found. ``param`` is the
path of the offending field: ``order_id``, ``line_items[0].unit_amount``, ``metadata.cart``
(the shared machinery is :mod:`app.request_bodies`). Amounts are integers in the currency's
minor unit (see ``app.payments.currencies``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.errors import InvalidRequest
from app.payments.currencies import (
    MAXIMUM_CHARGE,
    SUPPORTED,
    amount_step,
    format_amount,
    minimum_charge,
)
from app.payments.metadata import METADATA_MAX_VALUE_LENGTH, Metadata, check_metadata
from app.payments.payment_methods import TYPES as PAYMENT_METHOD_TYPES
from app.payments.payment_methods import currency_problem
from app.payments.redirect_urls import check_redirect_url
from app.request_bodies import StrictModel, parse_model

# Deliberately simple: one "@", no whitespace, a dot in the domain. Full RFC 5322 parsing is
# not worth a dependency; Stripe validates the address again.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


class LineItem(StrictModel):
    """One line of the order: ``unit_amount`` (minor units) times ``quantity``."""

    name: StrictStr = Field(min_length=1, max_length=250)
    unit_amount: StrictInt = Field(ge=0)
    quantity: StrictInt = Field(ge=1, le=10_000)


class PaymentCreate(StrictModel):
    """A validated ``POST /api/v1/payments`` body (see ``parse_payment_create``)."""

    order_id: StrictStr = Field(min_length=1, max_length=64)
    currency: StrictStr
    line_items: list[LineItem] = Field(min_length=1, max_length=100)
    success_url: StrictStr
    cancel_url: StrictStr
    customer_email: StrictStr | None = None
    metadata: Metadata = Field(default_factory=dict)
    expires_in: StrictInt = Field(default=86_400, ge=1_800, le=86_400)
    """Seconds until the Checkout Session expires (Stripe allows 30 minutes to 24 hours)."""
    payment_method_types: list[StrictStr] | None = Field(
        default=None, min_length=1, max_length=len(PAYMENT_METHOD_TYPES)
    )
    """Stripe payment method types offered to the shopper; None: Stripe's dynamic payment methods."""

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the strict str type reports it
        code = value.lower()
        if code not in SUPPORTED:
            raise PydanticCustomError(
                "currency_unsupported",
                "'{currency}' is not a currency supported for card payments; use an ISO 4217 "
                "code such as 'usd'.",
                {"currency": value[:20]},
            )
        return code

    @field_validator("line_items")
    @classmethod
    def _amounts(cls, items: list[LineItem], info: ValidationInfo) -> list[LineItem]:
        currency = info.data.get("currency")
        if currency is None:  # already reported as a currency error
            return items
        step = amount_step(currency)
        for index, item in enumerate(items):
            if item.unit_amount % step:
                raise PydanticCustomError(
                    "amount_step",
                    "Amounts in {currency} must be multiples of {step} (Stripe requires the "
                    "last digit of three-decimal amounts to be 0).",
                    {
                        "param": f"line_items[{index}].unit_amount",
                        "currency": currency.upper(),
                        "step": step,
                    },
                )
        total = sum(item.unit_amount * item.quantity for item in items)
        minimum = minimum_charge(currency)
        if total < minimum:
            raise PydanticCustomError(
                "amount_too_small",
                "The total must be at least {minimum} for {currency} (got {total}).",
                {
                    "currency": currency.upper(),
                    "minimum": format_amount(minimum, currency),
                    "total": format_amount(total, currency),
                },
            )
        if total > MAXIMUM_CHARGE:
            raise PydanticCustomError(
                "amount_too_large",
                "The total must be at most {maximum} (got {total}).",
                {
                    "maximum": format_amount(MAXIMUM_CHARGE, currency),
                    "total": format_amount(total, currency),
                },
            )
        return items

    @field_validator("payment_method_types")
    @classmethod
    def _payment_method_types(cls, types: list[str] | None, info: ValidationInfo) -> list[str] | None:
        currency = info.data.get("currency")
        if types is None or currency is None:  # a bad currency is already reported
            return types
        problem = currency_problem(types, currency)
        if problem is not None:
            index, message = problem
            raise PydanticCustomError(
                "payment_method_type_invalid", message, {"param": f"payment_method_types[{index}]"}
            )
        return types

    @field_validator("success_url", "cancel_url")
    @classmethod
    def _redirect_url(cls, url: str, info: ValidationInfo) -> str:
        allowed = {domain.lower().strip("[]") for domain in (info.context or {})["allowed_domains"]}
        check_redirect_url(url, allowed)
        return url

    @field_validator("customer_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 254 or not _EMAIL.fullmatch(value)):
            raise PydanticCustomError("email_invalid", "Not a valid email address.")
        return value

    @property
    def amount_total(self) -> int:
        """Sum of ``unit_amount * quantity`` over the line items, in minor units."""
        return sum(item.unit_amount * item.quantity for item in self.line_items)

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the canonical JSON of this request (sorted keys, defaults
        filled in), to tell an idempotent retry from a different request with the same key."""
        # Requests without payment_method_types keep the fingerprint they had before the field
        # existed, so a retry across an upgrade is still recognised as the same request.
        omit = {"payment_method_types"} if self.payment_method_types is None else None
        canonical = json.dumps(
            self.model_dump(mode="json", exclude=omit),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class RefundCreate(StrictModel):
    """A validated ``POST /api/v1/payments/<id>/refunds`` body (see ``parse_refund_create``).

    ``amount`` is ``None`` for "refund everything that is left".
    """

    amount: StrictInt | None = Field(default=None, ge=1, le=MAXIMUM_CHARGE)
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    metadata: Metadata = Field(default_factory=dict)


class PaymentUpdate(StrictModel):
    """A validated ``POST /api/v1/payments/<id>`` body (see ``parse_payment_update``)."""

    metadata: dict[StrictStr, Annotated[StrictStr, Field(max_length=METADATA_MAX_VALUE_LENGTH)]] = Field(
        default_factory=dict
    )


def parse_payment_create(body: object, allowed_domains: Collection[str]) -> PaymentCreate:
    """Validate a ``POST /api/v1/payments`` body.

    ``body``: the decoded JSON, expected to be an object with ``order_id`` (1-64 chars),
    ``currency`` (Stripe-supported, any case, stored lowercase), ``line_items`` (1-100 of
    ``{name: 1-250 chars, unit_amount: int >= 0, quantity: 1-10000}``), ``success_url`` and
    ``cancel_url`` (https, host exactly one of ``allowed_domains``; http only for localhost,
    127.0.0.1 and [::1]; no credentials; at most 2048 chars), and optionally
    ``customer_email``, ``metadata`` (Stripe's limits), ``expires_in`` (1800-86400 s,
    default 86400) and ``payment_method_types`` (1 or more of
    ``app.payments.payment_methods.TYPES``, each once, each accepting the currency: Stripe's
    rules, e.g. ``ideal`` takes ``eur`` only; ``param`` is then ``payment_method_types[i]``).
    The total must lie between ``minimum_charge(currency)`` and 99,999,999 minor units;
    three-decimal amounts must end in 0.

    Raises ``InvalidRequest`` (param = path of the first invalid field, ``None`` when the body
    is not an object).
    """
    return parse_model(PaymentCreate, body, {"allowed_domains": allowed_domains})


def parse_refund_create(body: object) -> RefundCreate:
    """Validate a refund body: ``{}`` or any of ``amount`` (int >= 1, minor units of the
    payment's currency), ``reason`` (``duplicate``, ``fraudulent`` or
    ``requested_by_customer``) and ``metadata``. The caller still checks the amount against
    the refundable balance and ``amount_step`` of the payment's currency.

    Raises ``InvalidRequest`` as ``parse_payment_create`` does.
    """
    return parse_model(RefundCreate, body)


def parse_payment_update(body: object, current: dict[str, str]) -> dict[str, str]:
    """Validate a payment update ``{"metadata": {...}}`` and return the merged metadata.

    Stripe's semantics (https://docs.stripe.com/metadata): the given keys are set, the others
    kept, and a key given ``""`` is removed; the result obeys the same limits as at creation
    (50 keys, keys 1-40 characters without brackets, values up to 500). ``{}`` changes nothing.
    Raises ``InvalidRequest`` as ``parse_payment_create`` does (``param`` ``metadata``...).
    """
    changes = parse_model(PaymentUpdate, body).metadata
    merged = {**current, **changes}
    merged = {key: value for key, value in merged.items() if value != ""}
    try:
        return check_metadata(merged)
    except PydanticCustomError as exc:
        raise InvalidRequest(f"Invalid metadata: {exc.message()}", param="metadata") from None
