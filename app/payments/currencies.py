"""Currency facts Stripe imposes on card payments.

All amounts are integers in the currency's minor unit (cents for ``usd``, yen for ``jpy``,
fils for ``kwd``). Currency codes are lowercase ISO 4217, as Stripe expects them.

Source for every rule here: Stripe's "Supported currencies" page,
https://docs.stripe.com/currencies (sections "Supported presentment currencies",
"Zero-decimal currencies", "Three-decimal currencies" and "Minimum and maximum charge
amounts").
"""

from __future__ import annotations

SUPPORTED: frozenset[str] = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
    gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
    kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
    ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
    sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst
    xaf xcd xcg xof xpf yer zar zmw
    """.split()
)
"""Presentment currencies Stripe supports for card payments (Stripe's "Supported
presentment currencies" list, plus the three-decimal currencies of ``THREE_DECIMAL``)."""

ZERO_DECIMAL: frozenset[str] = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
"""Currencies whose API amount is in major units (Stripe: "Zero-decimal currencies")."""

THREE_DECIMAL: frozenset[str] = frozenset("bhd jod kwd omr tnd".split())
"""Currencies with three decimals (Stripe: "Three-decimal currencies"); Stripe requires the
last digit of every amount in them to be 0, see ``amount_step``."""

MAXIMUM_CHARGE = 99_999_999
"""Largest amount Stripe accepts, in minor units: eight digits (Stripe: "Minimum and maximum
charge amounts")."""

_MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip

_SYMBOLS: dict[str, str] = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def exponent(currency: str) -> int:
    """Number of decimals of ``currency`` in Stripe amounts: 0, 2 or 3.

    ``currency`` is an ISO 4217 code in any case; codes Stripe does not list as zero- or
    three-decimal are two-decimal. Never raises.
    """
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def amount_step(currency: str) -> int:
    """The value every amount in ``currency`` must be a multiple of, in minor units: 1, or 10
    for three-decimal currencies (Stripe: "Three-decimal currencies", the last digit must be 0
    "to ensure compatibility with Stripe's payments partners")."""
    return 10 if currency.lower() in THREE_DECIMAL else 1


def minimum_charge(currency: str) -> int:
    """Smallest total Stripe accepts for a payment in ``currency``, in minor units.

    For the currencies in Stripe's "Minimum and maximum charge amounts" table this is the
    table's value (``usd`` 50 = $0.50, ``jpy`` 50 = ¥50, ``huf`` 17500 = 175.00 Ft).

    For every other currency Stripe's rule is "the equivalent of 0.50 USD" in the settlement
    currency, which needs an exchange rate we do not have. Rather than guess with rates that go
    stale, we only require ``amount_step(currency)`` (one minor unit, or 10 for three-decimal
    currencies): a smaller total can never be charged, and a total that is positive but under
    Stripe's converted minimum is refused by Stripe when the Checkout Session is created.
    Never raises.
    """
    code = currency.lower()
    return _MINIMUM_CHARGE.get(code, amount_step(code))


def format_amount(amount: int, currency: str) -> str:
    """Human-readable ``amount`` (minor units) of ``currency``, for shoppers and messages.

    Uses a symbol for ``usd``/``eur``/``gbp``/``jpy`` and the uppercase code after the number
    otherwise, with thousands separators and ``exponent(currency)`` decimals:
    ``(1500, "usd")`` -> ``"$15.00"``, ``(1500, "jpy")`` -> ``"¥1,500"``,
    ``(1234, "kwd")`` -> ``"1.234 KWD"``, ``(-250, "eur")`` -> ``"-€2.50"``. Never raises.
    """
    code = currency.lower()
    digits = exponent(code)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    number = f"{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    symbol = _SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {code.upper()}"
