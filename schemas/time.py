"""Instants are aware UTC datetimes; the business day is a date in the province's zone."""

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime

BUSINESS_ZONE_NAME = "Asia/Ho_Chi_Minh"
BUSINESS_ZONE = ZoneInfo(BUSINESS_ZONE_NAME)


def to_utc(instant: datetime) -> datetime:
    """Normalise an aware instant to UTC; naive datetimes are refused by the AwareDatetime type."""
    return instant if instant.tzinfo is UTC else instant.astimezone(UTC)


UtcInstant = Annotated[AwareDatetime, AfterValidator(to_utc)]


def business_date(instant: datetime, zone: ZoneInfo = BUSINESS_ZONE) -> date:
    """The calendar day an instant belongs to in the province's zone (UTC+7, no DST)."""
    if instant.tzinfo is None:
        raise ValueError("business_date needs an aware datetime, got a naive one")
    return instant.astimezone(zone).date()
