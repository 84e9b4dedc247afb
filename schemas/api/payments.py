"""Requests and responses of the payments HTTP API. Money is integer VND in `*_minor` fields."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from schemas.events.payments_v1 import Channel, PaymentMethod
from schemas.money import AMOUNT_MINOR_MAX

AmountMinor = Annotated[StrictInt, Field(gt=0, le=AMOUNT_MINOR_MAX)]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileDossierRequest(ApiModel):
    procedure_code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9._\-]{0,63}$")
    unit_code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9._\-]{0,63}$")
    quantity: StrictInt = Field(default=1, ge=1, le=1000)
    # Clerks file counter dossiers on behalf of a citizen; citizens file for themselves online.
    citizen_id: str | None = Field(default=None, pattern=r"^[0-9]{9,12}$")


class CheckoutRequest(ApiModel):
    locale: Literal["vn", "en"] = "vn"


class CounterPaymentRequest(ApiModel):
    method: Literal[PaymentMethod.COUNTER_CASH, PaymentMethod.COUNTER_POS]
    amount_minor: AmountMinor
    reference: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-/]+$")


class RefundRequest(ApiModel):
    amount_minor: AmountMinor
    reason: str = Field(min_length=3, max_length=500)
    proposal_id: UUID | None = None  # approve a pending proposal (amount must match it)


class FlaggedMoneyRefundRequest(ApiModel):
    reason: str = Field(min_length=3, max_length=500)


class ReductionRequest(ApiModel):
    amount_minor: AmountMinor
    legal_basis: str = Field(min_length=3, max_length=500)


class CloseDossierRequest(ApiModel):
    reason: str = Field(min_length=3, max_length=500)


class PaymentView(ApiModel):
    payment_id: UUID
    dossier_id: UUID
    citizen_id: str
    unit_code: str
    agency_code: str
    procedure_code: str
    status: str
    scheduled_minor: int
    due_minor: int
    captured_minor: int
    refunded_minor: int
    method: PaymentMethod | None
    expires_at: datetime
    attempts: int
    receipt_number: str | None
    open_refund_proposals: dict[UUID, int]
    # Money flagged callbacks moved that suspense holds for a refund, by the callback's evidence
    # id (POST /payments/{id}/flagged-money/{evidence_id}/refund gives it back).
    flagged_money_held: dict[UUID, int] = {}
    version: int


class DossierCreated(ApiModel):
    dossier_id: UUID
    procedure_code: str
    unit_code: str
    channel: Channel
    fee_minor: int
    schedule_version: str
    payment: PaymentView | None
    next_step: str


class DossierView(ApiModel):
    dossier_id: UUID
    citizen_id: str
    procedure_code: str
    unit_code: str
    channel: Channel
    status: str
    payment_id: UUID | None


class CheckoutResponse(ApiModel):
    payment_id: UUID
    order_ref: str
    redirect_url: str
    expires_at: datetime


class GatewayReturnView(ApiModel):
    """What the browser return page may say: it never changes state."""

    payment_id: UUID | None
    order_ref: str
    status: str
    message: str


class ReceiptView(ApiModel):
    receipt_number: str
    payment_id: UUID
    dossier_id: UUID
    agency_code: str
    unit_code: str
    procedure_code: str
    amount_minor: int
    method: PaymentMethod | None
    issued_at: datetime


class PaymentPage(ApiModel):
    items: list[PaymentView]
    next_cursor: str | None


class Problem(ApiModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
