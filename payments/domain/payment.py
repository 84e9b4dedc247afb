"""The payment aggregate: an explicit state machine as pure decide/evolve functions.

    REQUESTED --checkout--> PENDING --callback ok--> SUCCEEDED --refund--> PARTIALLY_REFUNDED
        |  ^                   |  \\--callback failed--> FAILED (a new checkout may retry)  |
        |  '--reduction        |   \\--deadline--> EXPIRED --late money--> CAPTURED_AFTER_EXPIRY
        |--counter payment--> SUCCEEDED                  (accept -> SUCCEEDED, or refund)
        |--full exemption--> WAIVED           REFUNDED <--refund of the rest--'
        '--cancel (also from PENDING or FAILED)--> CANCELLED --late money--> CAPTURED_AFTER_EXPIRY

State changes only through events; `decide_*` functions check the rules and return the events,
`evolve` applies one event. Replaying a stream with `fold` rebuilds the state exactly.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from payments.domain.errors import (
    AmountMismatchError,
    InvalidTransitionError,
    PaymentExpiredError,
    RefundExceedsCapturedError,
)
from schemas.envelope import EventPayload
from schemas.events.payments_v1 import (
    CheckoutStarted,
    FeeReductionGranted,
    FlaggedMoneyRefunded,
    GatewayCallbackFlagged,
    LateCaptureAccepted,
    PaymentCancelled,
    PaymentCaptured,
    PaymentExpired,
    PaymentFailed,
    PaymentMethod,
    PaymentRequested,
    ReceiptIssued,
    ReductionKind,
    RefundIssued,
    RefundProposed,
    RefundSource,
)
from schemas.money import Money, PositiveMoney

CHECKOUT_ATTEMPTS_MAX = 10


class PaymentStatus(StrEnum):
    REQUESTED = "requested"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    WAIVED = "waived"
    CAPTURED_AFTER_EXPIRY = "captured_after_expiry"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


OPEN_FOR_PAYMENT = {PaymentStatus.REQUESTED, PaymentStatus.PENDING, PaymentStatus.FAILED}
HOLDS_MONEY = {
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.CAPTURED_AFTER_EXPIRY,
}


@dataclass(frozen=True)
class HeldMoney:
    """Money a flagged callback moved that no fee took: it waits in suspense for a refund."""

    order_ref: str
    gateway: str
    amount_minor: int


@dataclass(frozen=True)
class Payment:
    """Everything the rules need to know about one payment, folded from its events."""

    payment_id: UUID
    dossier_id: UUID
    citizen_id: str
    agency_code: str
    unit_code: str
    procedure_code: str
    status: PaymentStatus
    scheduled_minor: int
    due_minor: int
    expires_at: datetime
    captured_minor: int = 0
    refunded_minor: int = 0
    method: PaymentMethod | None = None
    attempts: int = 0
    order_refs: tuple[str, ...] = ()
    captured_order_ref: str | None = None
    checkout_started_at: datetime | None = None
    receipt_number: str | None = None
    open_proposals: dict[UUID, int] = field(default_factory=dict)
    # Orders whose money a money-moving flag recorded: an order is paid at the gateway once, so
    # its money reported again, under any flag, is not flagged (and held in suspense) again.
    flagged_orders: frozenset[str] = frozenset()
    # Money those flags hold in suspense and not yet refunded, by the flagged callback's evidence.
    flagged_money: dict[UUID, HeldMoney] = field(default_factory=dict)
    cancelled: bool = False  # cancelled once (its dossier was closed), whatever came after

    @property
    def refundable_minor(self) -> int:
        return self.captured_minor - self.refunded_minor


# ---------------------------------------------------------------- evolve


def _evolve_money(state: Payment, event: EventPayload) -> Payment:
    match event:
        case PaymentCaptured():
            status = (
                PaymentStatus.CAPTURED_AFTER_EXPIRY
                if event.after_expiry
                else PaymentStatus.SUCCEEDED
            )
            return replace(
                state,
                status=status,
                captured_minor=state.captured_minor + event.amount.amount_minor,
                method=event.method,
                captured_order_ref=event.order_ref,
            )
        case RefundProposed():
            proposals = {**state.open_proposals, event.proposal_id: event.amount.amount_minor}
            return replace(state, open_proposals=proposals)
        case RefundIssued():
            refunded = state.refunded_minor + event.amount.amount_minor
            proposals = {k: v for k, v in state.open_proposals.items() if k != event.proposal_id}
            status = (
                PaymentStatus.REFUNDED
                if refunded == state.captured_minor
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            return replace(state, refunded_minor=refunded, status=status, open_proposals=proposals)
        case ReceiptIssued():
            return replace(state, receipt_number=event.receipt_number)
        case LateCaptureAccepted():
            # Keeping the money answers the refund proposal raised with the late capture.
            return replace(state, status=PaymentStatus.SUCCEEDED, open_proposals={})
    return state


def evolve(state: Payment | None, event: EventPayload) -> Payment:
    """Apply one event. Events are facts already checked by `decide_*`; this never refuses."""
    if isinstance(event, PaymentRequested):
        return Payment(
            payment_id=event.payment_id,
            dossier_id=event.dossier_id,
            citizen_id=event.citizen_id,
            agency_code=event.agency_code,
            unit_code=event.unit_code,
            procedure_code=event.procedure_code,
            status=PaymentStatus.REQUESTED,
            scheduled_minor=event.amount.amount_minor,
            due_minor=event.amount.amount_minor,
            expires_at=event.expires_at,
        )
    if state is None:
        raise ValueError(f"{type(event).__name__} before PaymentRequested")
    match event:
        case FeeReductionGranted():
            due = event.amount_due_after.amount_minor
            return replace(
                state, due_minor=due, status=PaymentStatus.WAIVED if due == 0 else state.status
            )
        case CheckoutStarted():
            return replace(
                state,
                status=PaymentStatus.PENDING,
                attempts=event.attempt,
                order_refs=(*state.order_refs, event.order_ref),
                checkout_started_at=event.started_at,
            )
        case PaymentFailed():
            return replace(state, status=PaymentStatus.FAILED)
        case PaymentExpired():
            return replace(state, status=PaymentStatus.EXPIRED)
        case PaymentCancelled():
            return replace(state, status=PaymentStatus.CANCELLED, cancelled=True)
        case GatewayCallbackFlagged() if (moved := event.moved_money) is not None:
            held = HeldMoney(event.order_ref, event.gateway, moved.amount_minor)
            return replace(
                state,
                flagged_orders=state.flagged_orders | {event.order_ref},
                flagged_money={**state.flagged_money, event.evidence_id: held},
            )
        case FlaggedMoneyRefunded():  # the order's money, however many flags held it
            still_held = {
                k: v for k, v in state.flagged_money.items() if v.order_ref != event.order_ref
            }
            return replace(state, flagged_money=still_held)
    return _evolve_money(state, event)


def fold(events: list[EventPayload]) -> Payment | None:
    state: Payment | None = None
    for event in events:
        state = evolve(state, event)
    return state


# ---------------------------------------------------------------- decide


def _require(state: Payment, command: str, allowed: set[PaymentStatus], detail: str = "") -> None:
    if state.status not in allowed:
        raise InvalidTransitionError(command, state.status.value, detail)


def decide_reduction(
    state: Payment, reduction_minor: int, legal_basis: str, approved_by: str
) -> list[EventPayload]:
    """An officer waives part (or all) of the fee before anything was paid."""
    _require(state, "reduce the fee of", {PaymentStatus.REQUESTED, PaymentStatus.FAILED})
    if not 0 < reduction_minor <= state.due_minor:
        raise AmountMismatchError("reduction.amount_minor", state.due_minor, reduction_minor)
    due_after = state.due_minor - reduction_minor
    kind = ReductionKind.EXEMPTION if due_after == 0 else ReductionKind.REDUCTION
    return [
        FeeReductionGranted(
            payment_id=state.payment_id,
            kind=kind,
            reduction=PositiveMoney(amount_minor=reduction_minor),
            amount_due_after=Money(amount_minor=due_after),
            legal_basis=legal_basis,
            approved_by=approved_by,
        )
    ]


def decide_checkout(
    state: Payment, *, gateway: str, order_ref: str, now: datetime, gateway_expires_at: datetime
) -> list[EventPayload]:
    """Send the citizen to the gateway with a fresh order reference."""
    _require(state, "check out", {PaymentStatus.REQUESTED, PaymentStatus.FAILED})
    if now >= state.expires_at:
        raise PaymentExpiredError(
            f"the payment expired at {state.expires_at.isoformat()}",
            expires_at=state.expires_at.isoformat(),
        )
    if state.attempts >= CHECKOUT_ATTEMPTS_MAX:
        raise InvalidTransitionError(
            "check out", state.status.value, f"{CHECKOUT_ATTEMPTS_MAX} attempts already"
        )
    return [
        CheckoutStarted(
            payment_id=state.payment_id,
            attempt=state.attempts + 1,
            agency_code=state.agency_code,
            unit_code=state.unit_code,
            procedure_code=state.procedure_code,
            gateway=gateway,
            order_ref=order_ref,
            amount=PositiveMoney(amount_minor=state.due_minor),
            started_at=now,
            gateway_expires_at=min(gateway_expires_at, state.expires_at),
        )
    ]


def decide_counter_payment(
    state: Payment, *, method: PaymentMethod, amount_minor: int, reference: str, now: datetime
) -> list[EventPayload]:
    """A clerk received the fee at the counter (cash or POS)."""
    if method == PaymentMethod.ONLINE_GATEWAY:
        raise InvalidTransitionError("record a counter payment with method", method.value)
    _require(
        state,
        "record a counter payment for",
        {PaymentStatus.REQUESTED, PaymentStatus.FAILED},
        "an online checkout in progress must end (or expire) first"
        if state.status == PaymentStatus.PENDING
        else "",
    )
    if amount_minor != state.due_minor:
        raise AmountMismatchError("amount_minor", state.due_minor, amount_minor)
    return [captured_event(state, amount_minor, method, now, counter_reference=reference)]


def captured_event(
    state: Payment,
    amount_minor: int,
    method: PaymentMethod,
    now: datetime,
    *,
    after_expiry: bool = False,
    counter_reference: str | None = None,
    gateway: str | None = None,
    order_ref: str | None = None,
    gateway_transaction_ref: str | None = None,
    bank_code: str | None = None,
) -> PaymentCaptured:
    return PaymentCaptured(
        payment_id=state.payment_id,
        dossier_id=state.dossier_id,
        amount=PositiveMoney(amount_minor=amount_minor),
        method=method,
        agency_code=state.agency_code,
        unit_code=state.unit_code,
        procedure_code=state.procedure_code,
        captured_at=now,
        gateway=gateway,
        order_ref=order_ref,
        gateway_transaction_ref=gateway_transaction_ref,
        bank_code=bank_code,
        counter_reference=counter_reference,
        after_expiry=after_expiry,
    )


def decide_expiry(state: Payment, now: datetime) -> list[EventPayload]:
    """Unpaid online payments lapse at their deadline (a sweeper calls this)."""
    if state.status not in OPEN_FOR_PAYMENT or now < state.expires_at:
        return []
    return [PaymentExpired(payment_id=state.payment_id, expired_at=now)]


def decide_cancel(state: Payment, reason: str) -> list[EventPayload]:
    """Only while nothing is paid; a checkout still open at the gateway pays in late."""
    _require(state, "cancel", OPEN_FOR_PAYMENT)
    return [PaymentCancelled(payment_id=state.payment_id, reason=reason)]


def decide_refund_proposal(
    state: Payment, *, proposal_id: UUID, amount_minor: int, source: RefundSource, reason: str
) -> list[EventPayload]:
    """Ask for a refund; an officer approves it later with `decide_refund`."""
    _require(state, "propose a refund for", HOLDS_MONEY)
    pending = sum(state.open_proposals.values())
    if amount_minor > state.refundable_minor - pending:
        raise RefundExceedsCapturedError(amount_minor, state.refundable_minor - pending)
    return [
        RefundProposed(
            payment_id=state.payment_id,
            proposal_id=proposal_id,
            amount=PositiveMoney(amount_minor=amount_minor),
            source=source,
            reason=reason,
        )
    ]


def decide_refund(
    state: Payment,
    *,
    refund_id: UUID,
    amount_minor: int,
    reason: str,
    approved_by: str,
    proposal_id: UUID | None = None,
) -> list[EventPayload]:
    """Give money back: partial or full, never more than captured and not yet refunded."""
    _require(state, "refund", HOLDS_MONEY)
    if proposal_id is not None:
        proposed = state.open_proposals.get(proposal_id)
        if proposed is None:
            raise InvalidTransitionError("approve refund proposal", "unknown or already decided")
        if proposed != amount_minor:
            raise AmountMismatchError("amount_minor", proposed, amount_minor)
    # Open proposals reserve their amounts: a direct refund may not eat into them, or an approved
    # proposal could no longer be paid out.
    reserved = sum(amount for key, amount in state.open_proposals.items() if key != proposal_id)
    if amount_minor > state.refundable_minor - reserved:
        raise RefundExceedsCapturedError(amount_minor, state.refundable_minor - reserved)
    method = state.method or PaymentMethod.ONLINE_GATEWAY
    return [
        RefundIssued(
            payment_id=state.payment_id,
            refund_id=refund_id,
            amount=PositiveMoney(amount_minor=amount_minor),
            reason=reason,
            approved_by=approved_by,
            proposal_id=proposal_id,
            method=method,
            agency_code=state.agency_code,
            unit_code=state.unit_code,
            procedure_code=state.procedure_code,
            from_suspense=state.status == PaymentStatus.CAPTURED_AFTER_EXPIRY,
        )
    ]


def decide_accept_late_capture(state: Payment, accepted_by: str, reason: str) -> list[EventPayload]:
    _require(state, "accept the late capture of", {PaymentStatus.CAPTURED_AFTER_EXPIRY})
    if state.refunded_minor:
        raise InvalidTransitionError(
            "accept the late capture of", state.status.value, "part of it was refunded already"
        )
    if state.cancelled:  # its dossier was rejected or withdrawn: no fee is owed any more
        raise InvalidTransitionError(
            "accept the late capture of", state.status.value,
            "the payment was cancelled when its dossier was closed; refund the money",
        )  # fmt: skip
    return [
        LateCaptureAccepted(
            payment_id=state.payment_id,
            amount=PositiveMoney(amount_minor=state.captured_minor),
            agency_code=state.agency_code,
            unit_code=state.unit_code,
            procedure_code=state.procedure_code,
            accepted_by=accepted_by,
            reason=reason,
        )
    ]


def needs_receipt(state: Payment) -> bool:
    """A receipt is issued once money is held for the dossier (not for money to be refunded)."""
    return state.receipt_number is None and state.status == PaymentStatus.SUCCEEDED
