"""Payment-context events, schema version 1.

Streams: `dossier-<uuid>` (a citizen's application), `payment-<uuid>` (the fee of one dossier),
`receiptbook-<agency>-<year>` (gap-free receipt numbers: the stream version IS the number) and
`gatewayorder-<order ref>` (callbacks for orders we do not know). Amounts are integer VND inside a
Money object, never floats. Instants are aware UTC.
"""

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, StrictInt

from schemas.envelope import EventPayload
from schemas.money import Money, PositiveMoney
from schemas.time import UtcInstant

Code = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9._\-]{0,63}$")]
Reason = Annotated[str, Field(min_length=3, max_length=500)]
OfficerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@:\-]{1,120}$")]
CitizenId = Annotated[str, Field(pattern=r"^[0-9]{9,12}$")]  # CMND/CCCD number
OrderRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Quantity = Annotated[StrictInt, Field(ge=1, le=1000)]


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


class ReductionKind(StrEnum):
    EXEMPTION = "exemption"  # the whole fee is waived
    REDUCTION = "reduction"  # part of the fee is waived


class CallbackFlag(StrEnum):
    """Gateway callbacks that are not simply success or failure, each with a resolution path."""

    AMOUNT_MISMATCH = "amount_mismatch"  # money differs from the order: not success; status query
    CURRENCY_MISMATCH = "currency_mismatch"
    DUPLICATE_AMOUNT_MISMATCH = "duplicate_amount_mismatch"  # second callback, other amount
    PAID_AFTER_EXPIRY = "paid_after_expiry"  # money arrived for an expired/cancelled payment
    UNKNOWN_ORDER = "unknown_order"  # callback for an order ref we never issued
    RESULT_CONFLICT = "result_conflict"  # failure reported for an order already captured
    DOUBLE_PAYMENT = "double_payment"  # a second, separate payment for a payment already captured


# Flags whose callbacks moved money (when the gateway reported success) that no fee can absorb.
MONEY_MOVING_FLAGS = frozenset(
    {CallbackFlag.AMOUNT_MISMATCH, CallbackFlag.DOUBLE_PAYMENT, CallbackFlag.UNKNOWN_ORDER}
)


class RefundSource(StrEnum):
    CITIZEN_REQUEST = "citizen_request"
    DOSSIER_REJECTED = "dossier_rejected"
    DOSSIER_WITHDRAWN = "dossier_withdrawn"
    PAID_AFTER_EXPIRY = "paid_after_expiry"


class DossierFiled(EventPayload):
    """A dossier was filed at a one-stop-shop unit; its fee was fixed by the schedule."""

    event_type: ClassVar[str] = "DossierFiled"
    schema_version: ClassVar[int] = 1

    dossier_id: UUID
    citizen_id: CitizenId
    procedure_code: Code
    agency_code: Code
    unit_code: Code
    administrative_level: AdministrativeLevel
    channel: Channel
    quantity: Quantity = 1
    fee: Money
    schedule_version: Annotated[str, Field(min_length=1, max_length=64)]
    payment_id: UUID | None = None  # None when the procedure is free


class DossierRejected(EventPayload):
    event_type: ClassVar[str] = "DossierRejected"
    schema_version: ClassVar[int] = 1

    dossier_id: UUID
    reason: Reason
    rejected_by: OfficerId


class DossierWithdrawn(EventPayload):
    event_type: ClassVar[str] = "DossierWithdrawn"
    schema_version: ClassVar[int] = 1

    dossier_id: UUID
    reason: Reason


class PaymentRequested(EventPayload):
    """A fee-bearing dossier got a payment; amount, schedule version and deadline are fixed."""

    event_type: ClassVar[str] = "PaymentRequested"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    dossier_id: UUID
    citizen_id: CitizenId
    procedure_code: Code
    agency_code: Code
    unit_code: Code
    administrative_level: AdministrativeLevel
    channel: Channel
    quantity: Quantity = 1
    amount: PositiveMoney
    schedule_version: Annotated[str, Field(min_length=1, max_length=64)]
    expires_at: UtcInstant


class FeeReductionGranted(EventPayload):
    """An officer waived all or part of the fee, on a stated legal basis, before payment."""

    event_type: ClassVar[str] = "FeeReductionGranted"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    kind: ReductionKind
    reduction: PositiveMoney
    amount_due_after: Money
    legal_basis: Reason
    approved_by: OfficerId


class CheckoutStarted(EventPayload):
    """The citizen was sent to the gateway with a fresh order reference (one per attempt)."""

    event_type: ClassVar[str] = "CheckoutStarted"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    attempt: Annotated[StrictInt, Field(ge=1, le=100)]
    agency_code: Code
    unit_code: Code
    procedure_code: Code
    gateway: Code
    order_ref: OrderRef
    amount: PositiveMoney
    started_at: UtcInstant  # the order's creation time at the gateway (status queries need it)
    gateway_expires_at: UtcInstant


class PaymentCaptured(EventPayload):
    """The money was taken: a verified gateway callback said so, or a clerk received it."""

    event_type: ClassVar[str] = "PaymentCaptured"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    dossier_id: UUID
    amount: PositiveMoney
    method: PaymentMethod
    agency_code: Code
    unit_code: Code
    procedure_code: Code
    captured_at: UtcInstant
    gateway: Code | None = None
    order_ref: OrderRef | None = None
    gateway_transaction_ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    bank_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    counter_reference: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    after_expiry: bool = False


class PaymentFailed(EventPayload):
    event_type: ClassVar[str] = "PaymentFailed"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    order_ref: OrderRef
    response_code: Annotated[str, Field(min_length=1, max_length=8)]
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class PaymentExpired(EventPayload):
    event_type: ClassVar[str] = "PaymentExpired"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    expired_at: UtcInstant


class PaymentCancelled(EventPayload):
    event_type: ClassVar[str] = "PaymentCancelled"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    reason: Reason


class GatewayCallbackFlagged(EventPayload):
    """A callback that is neither plain success nor failure, kept for a person to resolve."""

    event_type: ClassVar[str] = "GatewayCallbackFlagged"
    schema_version: ClassVar[int] = 1

    payment_id: UUID | None
    gateway: Code
    order_ref: OrderRef
    flag: CallbackFlag
    gateway_reported_success: bool  # True: the gateway says money moved (the ledger holds it)
    expected_amount: Money | None
    received_amount: Money | None
    evidence_id: UUID
    resolution: Annotated[str, Field(min_length=3, max_length=300)]

    @property
    def moved_money(self) -> Money | None:
        """The money the gateway took that no fee can absorb (it waits in suspense), if any."""
        money_moving = self.flag in MONEY_MOVING_FLAGS and self.gateway_reported_success
        received = self.received_amount
        return received if money_moving and received and received.amount_minor > 0 else None


class LateCaptureAccepted(EventPayload):
    """Money that arrived after expiry is applied to the dossier after all (not refunded)."""

    event_type: ClassVar[str] = "LateCaptureAccepted"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    amount: PositiveMoney
    agency_code: Code
    unit_code: Code
    procedure_code: Code
    accepted_by: OfficerId
    reason: Reason


class RefundProposed(EventPayload):
    """A refund waiting for an officer's approval (raised automatically or by a citizen)."""

    event_type: ClassVar[str] = "RefundProposed"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    proposal_id: UUID
    amount: PositiveMoney
    source: RefundSource
    reason: Reason


class RefundIssued(EventPayload):
    """Money goes back to the citizen; never more than what was captured and not yet refunded."""

    event_type: ClassVar[str] = "RefundIssued"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    refund_id: UUID
    amount: PositiveMoney
    reason: Reason
    approved_by: OfficerId
    proposal_id: UUID | None = None
    method: PaymentMethod
    agency_code: Code
    unit_code: Code
    procedure_code: Code
    from_suspense: bool = False  # money captured after expiry and never accepted as a fee


class FlaggedMoneyRefunded(EventPayload):
    """Money a flagged callback moved (the citizen paid twice, or paid a wrong amount) goes back
    to the citizen from suspense, whole; the payment's own capture is untouched."""

    event_type: ClassVar[str] = "FlaggedMoneyRefunded"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    refund_id: UUID
    evidence_id: UUID  # the flagged callback whose money this is
    order_ref: OrderRef
    gateway: Code
    amount: PositiveMoney
    reason: Reason
    approved_by: OfficerId
    agency_code: Code
    unit_code: Code
    procedure_code: Code


class ReceiptIssued(EventPayload):
    """The electronic receipt of a captured payment."""

    event_type: ClassVar[str] = "ReceiptIssued"
    schema_version: ClassVar[int] = 1

    payment_id: UUID
    receipt_number: Annotated[str, Field(min_length=3, max_length=80)]
    agency_code: Code
    year: Annotated[StrictInt, Field(ge=2000, le=2200)]
    amount: PositiveMoney
    issued_at: UtcInstant


class ReceiptNumberAssigned(EventPayload):
    """On `receiptbook-<agency>-<year>`: this stream's version is the gap-free receipt number."""

    event_type: ClassVar[str] = "ReceiptNumberAssigned"
    schema_version: ClassVar[int] = 1

    agency_code: Code
    year: Annotated[StrictInt, Field(ge=2000, le=2200)]
    number: Annotated[StrictInt, Field(ge=1)]
    receipt_number: Annotated[str, Field(min_length=3, max_length=80)]
    payment_id: UUID


MODELS: tuple[type[EventPayload], ...] = (
    DossierFiled,
    DossierRejected,
    DossierWithdrawn,
    PaymentRequested,
    FeeReductionGranted,
    CheckoutStarted,
    PaymentCaptured,
    PaymentFailed,
    PaymentExpired,
    PaymentCancelled,
    GatewayCallbackFlagged,
    LateCaptureAccepted,
    RefundProposed,
    RefundIssued,
    FlaggedMoneyRefunded,
    ReceiptIssued,
    ReceiptNumberAssigned,
)
