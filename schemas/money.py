"""Money as an integer number of the currency's minor unit.

VND has no minor unit in use (ISO 4217 exponent 0), so `amount_minor` is whole dong. Floats are
never accepted: pydantic's strict int rejects 100.0 and "100" alike, so no rounding sneaks in.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

# One quadrillion dong: far above any fee, low enough that sums of millions of them fit in BIGINT.
AMOUNT_MINOR_MAX = 1_000_000_000_000_000

Currency = Literal["VND"]

AmountMinor = Annotated[StrictInt, Field(ge=0, le=AMOUNT_MINOR_MAX)]
PositiveAmountMinor = Annotated[StrictInt, Field(gt=0, le=AMOUNT_MINOR_MAX)]


class Money(BaseModel):
    """A non-negative amount in one currency; a refund is its own event, never a negative amount."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_minor: AmountMinor
    currency: Currency = "VND"


class PositiveMoney(Money):
    """An amount that must be above zero, e.g. what a payment asks for."""

    amount_minor: PositiveAmountMinor
