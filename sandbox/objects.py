"""Builders for Stripe-shaped API objects (keys and nesting follow Stripe's fixtures)."""

import secrets
import string

API_VERSION = "2026-10-28.endive"
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix, length=24):
    """Random Stripe-style identifier such as ``pi_3Qx...``."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def list_object(url, data, has_more=False):
    """A Stripe list object."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def empty_address():
    """An address hash with every field null."""
    return dict.fromkeys(["city", "country", "line1", "line2", "postal_code", "state"])


def checkout_session(*, session_id, created, expires_at, public_url, params, amount, currency):
    """A new, open ``checkout.session``; ``params`` are the validated create params."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": params.get("allow_promotion_codes"),
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": params.get("billing_address_collection"),
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": dict.fromkeys(
            ["after_submit", "shipping_address", "submit", "terms_of_service_acceptance"]
        ),
        "customer": None,
        "customer_account": None,
        "customer_creation": params.get("customer_creation") or "if_required",
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": params.get("locale"),
        "managed_payments": {"enabled": False},
        "metadata": params["metadata"],
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": params["payment_method_types"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type"),
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": f"{public_url}/pay/{session_id}",
        "wallet_options": None,
    }


def customer_details(email, name):
    """The ``customer_details`` hash a session gets when the shopper pays."""
    return {
        "address": empty_address(),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def line_item(*, price, description, quantity):
    """A checkout line ``item`` for ``quantity`` units of ``price`` (a price object, copied)."""
    total = price["unit_amount"] * quantity
    return {
        "id": new_id("li_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": price["currency"],
        "description": description,
        "price": dict(price),
        "quantity": quantity,
    }


def product(*, product_id, created, name, active=True, description=None, metadata=None):
    """A ``product`` (Stripe's catalogue entry a price belongs to)."""
    return {
        "id": product_id,
        "object": "product",
        "active": active,
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": metadata or {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    *, created, currency, unit_amount, product_id, active=True, lookup_key=None, nickname=None, metadata=None
):
    """A one-time ``price`` of ``unit_amount`` minor units of ``currency`` for ``product_id``."""
    return {
        "id": new_id("price_"),
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata or {},
        "nickname": nickname,
        "product": product_id,
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def customer(*, created, email, name, description=None, phone=None, metadata=None):
    """A ``customer``."""
    return {
        "id": new_id("cus_", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "individual_name": None,
        "invoice_prefix": new_id("", 8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata or {},
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def payment_intent(*, created, amount, currency, metadata, description, payment_method_types):
    """A new ``payment_intent`` awaiting a payment method, as Checkout creates it."""
    intent_id = new_id("pi_3")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": list(payment_method_types),
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def card_details(card, amount, exp_month, exp_year):
    """``payment_method_details`` for a card charge; ``card`` is a test-card entry."""
    return {
        "type": "card",
        "card": {
            "amount_authorized": amount,
            "authorization_code": "123456",
            "brand": card["brand"],
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "exp_month": exp_month,
            "exp_year": exp_year,
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": card["number"][-4:],
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": card["brand"],
            "network_token": {"used": False},
            "network_transaction_id": new_id("", 15),
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "transaction_link_id": None,
            "wallet": None,
        },
    }


def bank_details(account_number, routing_number):
    """``payment_method_details`` for a US bank account (ACH debit) charge."""
    return {
        "type": "us_bank_account",
        "us_bank_account": {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "fingerprint": new_id("", 16),
            "last4": account_number[-4:],
            "mandate": new_id("mandate_"),
            "payment_reference": None,
            "routing_number": routing_number,
        },
    }


def redirect_details(method, fingerprint, name):
    """``payment_method_details`` for a redirect method's charge (``alipay`` or ``ideal``).

    ``name`` is the shopper's name as the bank verified it (iDEAL); the sandbox's test bank is ING.
    """
    if method == "alipay":
        details = {
            "buyer_id": "2088" + new_id("", 12),
            "fingerprint": fingerprint,
            "transaction_id": "2026" + new_id("", 24),
        }
    else:
        details = {
            "bank": "ing",
            "bic": "INGBNL2A",
            "generated_sepa_debit": None,
            "generated_sepa_debit_mandate": None,
            "iban_last4": "5264",
            "transaction_id": new_id("", 12),
            "verified_name": name,
        }
    return {"type": method, method: details}


def outcome(network_status, kind, seller_message, reason=None):
    """A charge ``outcome`` hash."""
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": network_status,
        "reason": reason,
        "seller_message": seller_message,
        "type": kind,
    }


def charge(*, intent, created, payment_method, details, billing_email, billing_name):
    """A pending ``charge`` for ``intent``; callers set its final status."""
    charge_id = new_id("ch_3")
    return {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": {
            "address": empty_address(),
            "email": billing_email,
            "name": billing_name,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "SANDBOX",
        "captured": False,
        "created": created,
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": intent["id"],
        "payment_method": payment_method,
        "payment_method_details": details,
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": list_object(f"/v1/charges/{charge_id}/refunds", []),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "pending",
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(*, charge, amount, created, reason, metadata):
    """A succeeded ``refund`` of ``amount`` from ``charge``."""
    # The API models destination details for cards but not for ACH debits (null there).
    card = charge["payment_method_details"]["type"] == "card"
    destination = {"type": "card", "card": {"type": "refund"}} if card else None
    return {
        "id": new_id("re_3"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_3"),
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "customer": None,
        "customer_account": None,
        "destination_details": destination,
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def event(*, event_type, created, data_object, pending_webhooks, request):
    """An ``event`` wrapping a snapshot of ``data_object``."""
    return {
        "id": new_id("evt_3"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": request,
        "type": event_type,
    }
