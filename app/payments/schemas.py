"""Validation of the JSON bodies and query parameters of the merchant API.

Each ``parse_*`` function takes the decoded request body, returns a validated pydantic model
and raises ``InvalidRequest(message, param=...)`` for the first problem found. ``param`` is the
path of the offending field: ``order_id``, ``line_items[0].unit_amount``, ``metadata.cart``.
Amounts are integers in the currency's minor unit (see ``app.payments.currencies``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.errors import InvalidRequest
from app.merchant_events import EVENT_TYPES
from app.payments.currencies import (
    MAXIMUM_CHARGE,
    SUPPORTED,
    amount_step,
    format_amount,
    minimum_charge,
)
from app.payments.payment_methods import TYPES as PAYMENT_METHOD_TYPES
from app.payments.payment_methods import currency_problem

MAX_URL_LENGTH = 2048
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Hosts for which a plain ``http`` redirect URL is accepted (local development)."""

# Deliberately simple: one "@", no whitespace, a dot in the domain. Full RFC 5322 parsing is
# not worth a dependency; Stripe validates the address again.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_UNSAFE_URL_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")

# Stripe's metadata limits (https://docs.stripe.com/metadata): 50 keys, keys up to 40
# characters without square brackets, values up to 500 characters.
_METADATA_MAX_KEYS = 50
_METADATA_MAX_KEY_LENGTH = 40
_METADATA_MAX_VALUE_LENGTH = 500


class _Strict(BaseModel):
    """Base: no type coercion (``"15"``, ``15.0`` and ``true`` are not integers) and unknown
    fields rejected, so a client cannot smuggle in ``status`` or ``amount_total``."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    """Enforce Stripe's metadata limits on key count and key names (values are typed)."""
    if len(value) > _METADATA_MAX_KEYS:
        raise PydanticCustomError(
            "metadata_too_many_keys",
            "At most {limit} keys are allowed (got {count}).",
            {"limit": _METADATA_MAX_KEYS, "count": len(value)},
        )
    for key in value:
        if not 1 <= len(key) <= _METADATA_MAX_KEY_LENGTH or "[" in key or "]" in key:
            raise PydanticCustomError(
                "metadata_key_invalid",
                "Keys must be 1 to {limit} characters long without '[' or ']' (got '{key}').",
                {"limit": _METADATA_MAX_KEY_LENGTH, "key": key[:60]},
            )
    return value


Metadata = Annotated[
    dict[StrictStr, Annotated[StrictStr, Field(max_length=_METADATA_MAX_VALUE_LENGTH)]],
    AfterValidator(_check_metadata),
]

_Model = TypeVar("_Model", bound=BaseModel)


class LineItem(_Strict):
    """One line of the order: ``unit_amount`` (minor units) times ``quantity``."""

    name: StrictStr = Field(min_length=1, max_length=250)
    unit_amount: StrictInt = Field(ge=0)
    quantity: StrictInt = Field(ge=1, le=10_000)


class PaymentCreate(_Strict):
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
        _check_redirect_url(url, allowed)
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


def _check_redirect_url(url: str, allowed_hosts: set[str]) -> None:
    """Raise PydanticCustomError unless ``url`` is an absolute https URL (http for local
    hosts) without credentials whose host is exactly one of ``allowed_hosts`` (lowercase)."""
    if len(url) > MAX_URL_LENGTH:
        raise PydanticCustomError(
            "url_too_long",
            "URLs can be at most {limit} characters long.",
            {"limit": MAX_URL_LENGTH},
        )
    if _UNSAFE_URL_CHARS.search(url):
        raise PydanticCustomError(
            "url_invalid",
            "URLs cannot contain whitespace, control characters or backslashes.",
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise PydanticCustomError("url_invalid", "Not a valid absolute URL.") from None
    if not host or parts.scheme not in ("http", "https"):
        raise PydanticCustomError(
            "url_invalid",
            "Must be an absolute URL such as 'https://shop.example/thanks'.",
        )
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("url_invalid", "URLs cannot contain a user name or password.")
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise PydanticCustomError("url_invalid", "Must use https (http is only accepted for localhost).")
    if host not in allowed_hosts:
        raise PydanticCustomError(
            "url_host_not_allowed",
            "The host '{host}' is not one of your allowed domains.",
            {"host": host},
        )


class RefundCreate(_Strict):
    """A validated ``POST /api/v1/payments/<id>/refunds`` body (see ``parse_refund_create``).

    ``amount`` is ``None`` for "refund everything that is left".
    """

    amount: StrictInt | None = Field(default=None, ge=1, le=MAXIMUM_CHARGE)
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    metadata: Metadata = Field(default_factory=dict)


class WebhookEndpointCreate(_Strict):
    """A validated ``POST /api/v1/webhook_endpoints`` body (see
    ``parse_webhook_endpoint_create``)."""

    url: StrictStr = Field(min_length=1, max_length=MAX_URL_LENGTH)
    enabled_events: list[Literal["*", *EVENT_TYPES]] = Field(min_length=1)  # type: ignore[valid-type]
    description: StrictStr | None = Field(default=None, max_length=500)


class PaymentUpdate(_Strict):
    """A validated ``POST /api/v1/payments/<id>`` body (see ``parse_payment_update``)."""

    metadata: dict[StrictStr, Annotated[StrictStr, Field(max_length=_METADATA_MAX_VALUE_LENGTH)]] = Field(
        default_factory=dict
    )


class WebhookEndpointUpdate(_Strict):
    """A validated ``POST /api/v1/webhook_endpoints/<id>`` body: any of the create fields, and
    ``disabled`` (see ``parse_webhook_endpoint_update``)."""

    url: StrictStr | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    enabled_events: list[Literal["*", *EVENT_TYPES]] | None = Field(default=None, min_length=1)  # type: ignore[valid-type]
    description: StrictStr | None = Field(default=None, max_length=500)
    disabled: StrictBool | None = None


class ApiKeyRoll(_Strict):
    """A validated ``POST /api/v1/api_keys/<id>/roll`` body (see ``parse_api_key_roll``)."""

    expires_in: StrictInt = Field(default=0, ge=0, le=7 * 86_400)
    """Seconds the rolled key keeps working (Stripe's roll offers now to 7 days)."""


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
    return _parse(PaymentCreate, body, {"allowed_domains": allowed_domains})


def parse_refund_create(body: object) -> RefundCreate:
    """Validate a refund body: ``{}`` or any of ``amount`` (int >= 1, minor units of the
    payment's currency), ``reason`` (``duplicate``, ``fraudulent`` or
    ``requested_by_customer``) and ``metadata``. The caller still checks the amount against
    the refundable balance and ``amount_step`` of the payment's currency.

    Raises ``InvalidRequest`` as ``parse_payment_create`` does.
    """
    return _parse(RefundCreate, body)


def parse_webhook_endpoint_create(body: object) -> WebhookEndpointCreate:
    """Validate a webhook endpoint body: ``url`` (string, at most 2048 chars; reachability is
    checked by ``app.url_guard``), ``enabled_events`` (non-empty list of ``"*"`` or members of
    ``EVENT_TYPES``) and optional ``description`` (at most 500 chars).

    Raises ``InvalidRequest`` as ``parse_payment_create`` does.
    """
    return _parse(WebhookEndpointCreate, body)


def parse_payment_update(body: object, current: dict[str, str]) -> dict[str, str]:
    """Validate a payment update ``{"metadata": {...}}`` and return the merged metadata.

    Stripe's semantics (https://docs.stripe.com/metadata): the given keys are set, the others
    kept, and a key given ``""`` is removed; the result obeys the same limits as at creation
    (50 keys, keys 1-40 characters without brackets, values up to 500). ``{}`` changes nothing.
    Raises ``InvalidRequest`` as ``parse_payment_create`` does (``param`` ``metadata``...).
    """
    changes = _parse(PaymentUpdate, body).metadata
    merged = {**current, **changes}
    merged = {key: value for key, value in merged.items() if value != ""}
    try:
        return _check_metadata(merged)
    except PydanticCustomError as exc:
        raise InvalidRequest(f"Invalid metadata: {exc.message()}", param="metadata") from None


def parse_webhook_endpoint_update(body: object) -> WebhookEndpointUpdate:
    """Validate a webhook endpoint update: any of ``url``, ``enabled_events``, ``description``
    (as at creation; ``description: null`` clears it) and ``disabled`` (boolean). Members left
    out keep their value (``model_fields_set`` tells which were given).

    Raises ``InvalidRequest`` as ``parse_payment_create`` does.
    """
    return _parse(WebhookEndpointUpdate, body)


def parse_api_key_roll(body: object) -> ApiKeyRoll:
    """Validate a key roll body: ``{}`` or ``{"expires_in": 0..604800}`` (seconds the old key
    keeps working; default 0, i.e. it stops at once). Raises ``InvalidRequest``."""
    return _parse(ApiKeyRoll, body)


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


def _parse(model: type[_Model], body: object, context: dict[str, Any] | None = None) -> _Model:
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
