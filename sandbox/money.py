"""Currency helpers: minor-unit exponents, display formatting, minimum charges."""

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}
# Stripe's minimum charge amounts (in minor units) for common currencies.
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "jpy": 50, "cad": 50, "aud": 50, "chf": 50}


def exponent(currency):
    """Number of decimal places Stripe uses for ``currency``."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount, currency):
    """Format a minor-unit amount for people, e.g. ``$12.34``, ``¥1,500``, ``1.234 KWD``."""
    places = exponent(currency)
    number = f"{amount / 10**places:,.{places}f}"
    symbol = _SYMBOLS.get(currency.lower())
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"
