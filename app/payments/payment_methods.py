"""Payment method types: which a merchant may ask for, with which currency, and what the
shopper paid with.

The names are Stripe's ``payment_method_types`` (Checkout Session create). The currencies each
type accepts are Stripe's: "Payment method support" (https://docs.stripe.com/payments/
payment-methods/payment-method-support, "Country and currency support") and the "Presentment
currency" of each method's page (e.g. https://docs.stripe.com/payments/alipay,
https://docs.stripe.com/payments/ideal). Cards and Link take every presentment currency Stripe
supports for cards (``app.payments.currencies.SUPPORTED``, checked before these rules).
"""

from __future__ import annotations

from typing import Any

#: Currencies (lowercase ISO 4217) each type accepts; ``None``: every supported currency.
CURRENCIES: dict[str, frozenset[str] | None] = {
    "card": None,
    "link": None,
    "alipay": frozenset("aud cad cny eur gbp hkd jpy myr nzd sgd usd".split()),
    "us_bank_account": frozenset({"usd"}),
    "sepa_debit": frozenset({"eur"}),
    "ideal": frozenset({"eur"}),
    "bancontact": frozenset({"eur"}),
    "eps": frozenset({"eur"}),
    "p24": frozenset({"eur", "pln"}),
}

TYPES = tuple(CURRENCIES)
"""The payment method types ``POST /api/v1/payments`` accepts in ``payment_method_types``."""

#: What a payment's ``payment_method_details`` keeps of the charge's, per type: enough to tell
#: the shopper and the merchant which method paid (``Visa •••• 4242``), nothing that identifies
#: the shopper's account (no fingerprints, buyer ids or mandates).
_DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "card": ("brand", "last4"),
    "us_bank_account": ("bank_name", "last4"),
    "sepa_debit": ("bank_code", "country", "last4"),
    "ideal": ("bank", "iban_last4"),
    "bancontact": ("bank_name", "iban_last4"),
    "eps": ("bank",),
    "p24": ("bank",),
}

_TYPE_LABELS = {
    "card": "Card",
    "link": "Link",
    "alipay": "Alipay",
    "us_bank_account": "US bank account",
    "sepa_debit": "SEPA Direct Debit",
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "eps": "EPS",
    "p24": "Przelewy24",
}

#: Card brands as Stripe names them in ``payment_method_details.card.brand``.
_BRAND_LABELS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos Australia",
    "interac": "Interac",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


def currency_problem(types: list[str], currency: str) -> tuple[int, str] | None:
    """The first problem with ``types`` for ``currency`` (lowercase), as ``(index, message)``,
    or None when every type is known, listed once and accepts the currency.

    ``types`` is a merchant's non-empty ``payment_method_types``; rules from :data:`CURRENCIES`.
    """
    seen: set[str] = set()
    for index, kind in enumerate(types):
        if kind not in CURRENCIES:
            names = ", ".join(TYPES)
            return index, f"'{kind[:40]}' is not a payment method type we accept; use one of {names}."
        if kind in seen:
            return index, f"'{kind}' is listed more than once."
        seen.add(kind)
        accepted = CURRENCIES[kind]
        if accepted is not None and currency not in accepted:
            return index, (
                f"'{kind}' does not support the currency '{currency}'; it takes "
                f"{', '.join(sorted(accepted))} (Stripe's payment method support)."
            )
    return None


def details_from_charge(charge: Any) -> dict[str, Any] | None:
    """The payment's ``payment_method_details`` from a Stripe charge (a dict, or an unexpanded
    id, which gives None): ``{"type": "card", "card": {"brand": "visa", "last4": "4242"}}`` —
    Stripe's charge ``payment_method_details`` cut down to the string fields of
    :data:`_DETAIL_FIELDS` (other types keep only ``{"type": t, t: {}}``)."""
    if not isinstance(charge, dict):
        return None
    details = charge.get("payment_method_details")
    if not isinstance(details, dict) or not isinstance(details.get("type"), str):
        return None
    kind = details["type"][:40]
    found = details.get(kind)
    source: dict[str, Any] = found if isinstance(found, dict) else {}
    # Every kept field is a short string in Stripe's API; anything else is dropped, not stored.
    kept = {
        name: source[name][:64] for name in _DETAIL_FIELDS.get(kind, ()) if isinstance(source.get(name), str)
    }
    return {"type": kind, kind: kept}


def describe(details: dict[str, Any] | None) -> str | None:
    """How a receipt names the method that paid: ``Visa •••• 4242``, ``Alipay``, ``iDEAL``,
    ``US bank account •••• 6789``; None when ``details`` is None (not paid yet)."""
    if not details:
        return None
    kind = details.get("type") or ""
    fields = details.get(kind) or {}
    if kind == "card":
        brand = fields.get("brand") or ""
        label = _BRAND_LABELS.get(brand, brand.replace("_", " ").title() or "Card")
    else:
        label = _TYPE_LABELS.get(kind, kind.replace("_", " ").title())
    last4 = fields.get("last4") or fields.get("iban_last4")
    return f"{label} •••• {last4}" if last4 else label
