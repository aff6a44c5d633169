"""Stripe's metadata rules for the ``metadata`` of payments and refunds
(https://docs.stripe.com/metadata)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StrictStr
from pydantic_core import PydanticCustomError

# Stripe's metadata limits (https://docs.stripe.com/metadata): 50 keys, keys up to 40
# characters without square brackets, values up to 500 characters.
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500


def check_metadata(value: dict[str, str]) -> dict[str, str]:
    """Enforce Stripe's metadata limits on key count and key names (values are typed); returns
    ``value``. Raises ``PydanticCustomError`` (``metadata_too_many_keys``, ``metadata_key_invalid``)."""
    if len(value) > METADATA_MAX_KEYS:
        raise PydanticCustomError(
            "metadata_too_many_keys",
            "At most {limit} keys are allowed (got {count}).",
            {"limit": METADATA_MAX_KEYS, "count": len(value)},
        )
    for key in value:
        if not 1 <= len(key) <= METADATA_MAX_KEY_LENGTH or "[" in key or "]" in key:
            raise PydanticCustomError(
                "metadata_key_invalid",
                "Keys must be 1 to {limit} characters long without '[' or ']' (got '{key}').",
                {"limit": METADATA_MAX_KEY_LENGTH, "key": key[:60]},
            )
    return value


Metadata = Annotated[
    dict[StrictStr, Annotated[StrictStr, Field(max_length=METADATA_MAX_VALUE_LENGTH)]],
    AfterValidator(check_metadata),
]
"""A ``metadata`` field: string keys and values within Stripe's limits."""
