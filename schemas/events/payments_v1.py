"""Payment-context events, schema version 1: a dossier is filed and its fee is paid.

A small first set; the payments issue grows it (failures, expiry, refunds, receipts). Amounts are
integer VND inside a Money object, never floats.
"""

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field

from schemas.envelope import EventPayload
from schemas.money import Money, PositiveMoney

Code = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9._\-]{0,63}$")]


class AdministrativeLevel(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Channel(StrEnum):
    ONLINE = "online"
    COUNTER = "counter"


class PaymentMethod(StrEnum):
    ONLINE_GATEWAY = "online_gateway"
    COUNTER_CASH = "counter_cash"
    COUNTER_POS = "counter_pos"


class DossierFiled(EventPayload):
    """A citizen filed a dossier for a procedure at a one-stop-shop unit (online or counter)."""

    event_type: ClassVar[str] = "DossierFiled"
    schema_version: ClassVar[int] = 1

    dossier_id: UUID
    procedure_code: Code
    agency_code: Code
    unit_code: Code
    administrative_level: AdministrativeLevel
    channel: Channel
    fee: Money


class PaymentRequested(EventPayload):
    """A fee-bearing dossier got a payment whose amount was fixed from the fee schedule."""

    event_type: ClassVar[str] = "PaymentRequested"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    dossier_id: UUID
    amount: PositiveMoney
    method: PaymentMethod


class PaymentCaptured(EventPayload):
    """The money was taken: the gateway confirmed it, or a clerk received it at the counter."""

    event_type: ClassVar[str] = "PaymentCaptured"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    dossier_id: UUID
    amount: PositiveMoney
    method: PaymentMethod
    gateway_transaction_ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None


MODELS: tuple[type[EventPayload], ...] = (DossierFiled, PaymentRequested, PaymentCaptured)
