"""What a verified gateway result (callback or status query) does to a payment. Pure.

The state changes only from a server-to-server result whose signature verified; a browser return
never changes anything. Every awkward case ends in a named state or a flagged event that says how
a person resolves it, and in the reply the gateway expects.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from payments.domain.payment import HOLDS_MONEY, Payment, PaymentStatus, captured_event
from schemas.envelope import EventPayload
from schemas.events.payments_v1 import (
    CallbackFlag,
    GatewayCallbackFlagged,
    PaymentFailed,
    PaymentMethod,
    RefundProposed,
    RefundSource,
)
from schemas.money import Money, PositiveMoney

RESOLVE_BY_STATUS_QUERY = "query the gateway for the order's status, then refund or accept"
RESOLVE_BY_REFUND = "refund the money to the citizen (a refund proposal was raised)"
RESOLVE_MANUALLY = "finance reviews the gateway's record of the order"


class CallbackReply(StrEnum):
    """Gateway-neutral answers; each gateway adapter maps them to its own codes."""

    CONFIRMED = "confirmed"
    ORDER_NOT_FOUND = "order_not_found"
    ALREADY_CONFIRMED = "already_confirmed"
    INVALID_AMOUNT = "invalid_amount"


@dataclass(frozen=True)
class GatewayResult:
    """A verified statement by the gateway about one order."""

    gateway: str
    order_ref: str
    amount_minor: int
    currency: str
    succeeded: bool
    response_code: str
    transaction_ref: str | None
    bank_code: str | None
    paid_at: datetime | None


@dataclass(frozen=True)
class CallbackDecision:
    events: list[EventPayload]
    reply: CallbackReply


def _flag(
    state: Payment | None,
    result: GatewayResult,
    flag: CallbackFlag,
    evidence_id: UUID,
    resolution: str,
    expected_minor: int | None,
) -> GatewayCallbackFlagged:
    return GatewayCallbackFlagged(
        payment_id=None if state is None else state.payment_id,
        gateway=result.gateway,
        order_ref=result.order_ref,
        flag=flag,
        gateway_reported_success=result.succeeded,
        expected_amount=None if expected_minor is None else Money(amount_minor=expected_minor),
        received_amount=Money(amount_minor=result.amount_minor),
        evidence_id=evidence_id,
        resolution=resolution,
    )


def decide_unknown_order(
    result: GatewayResult, evidence_id: UUID, *, money_flagged_before: bool = False
) -> CallbackDecision:
    """A result for an order we never issued; its money is flagged once, however often the
    gateway reports it (`money_flagged_before`: the order's stream holds such a flag)."""
    flag = _flag(None, result, CallbackFlag.UNKNOWN_ORDER, evidence_id, RESOLVE_MANUALLY, None)
    repeated = money_flagged_before and flag.moved_money is not None
    return CallbackDecision([] if repeated else [flag], CallbackReply.ORDER_NOT_FOUND)


def decide_gateway_result(
    state: Payment, result: GatewayResult, *, evidence_id: UUID, proposal_id: UUID, now: datetime
) -> CallbackDecision:
    """Events and reply for a verified result about one of this payment's orders. The same
    money reported again (a gateway retry, a status query) is not flagged again: the ledger
    holds each flagged amount in suspense once. An order is paid at the gateway once, so its
    money is the same money whatever flag it comes back under (a wrong amount first, later a
    double payment once another order captured). The reply is the same either way."""
    decision = _decide_gateway_result(state, result, evidence_id, proposal_id, now)
    kept = [
        event
        for event in decision.events
        if not (
            isinstance(event, GatewayCallbackFlagged)
            and event.moved_money is not None
            and event.order_ref in state.flagged_orders
        )
    ]
    return CallbackDecision(kept, decision.reply)


def _decide_gateway_result(
    state: Payment, result: GatewayResult, evidence_id: UUID, proposal_id: UUID, now: datetime
) -> CallbackDecision:
    if result.order_ref not in state.order_refs:
        return decide_unknown_order(result, evidence_id)
    if result.currency != "VND":
        flag = _flag(
            state,
            result,
            CallbackFlag.CURRENCY_MISMATCH,
            evidence_id,
            RESOLVE_BY_STATUS_QUERY,
            state.due_minor,
        )
        return CallbackDecision([flag], CallbackReply.INVALID_AMOUNT)
    if result.succeeded:
        return _decide_success(state, result, evidence_id, proposal_id, now)
    return _decide_failure(state, result, evidence_id)


def _decide_success(
    state: Payment, result: GatewayResult, evidence_id: UUID, proposal_id: UUID, now: datetime
) -> CallbackDecision:
    if state.status in HOLDS_MONEY or state.status == PaymentStatus.REFUNDED:
        return _decide_second_success(state, result, evidence_id)
    if result.amount_minor != state.due_minor:
        flag = _flag(
            state,
            result,
            CallbackFlag.AMOUNT_MISMATCH,
            evidence_id,
            RESOLVE_BY_STATUS_QUERY,
            state.due_minor,
        )
        return CallbackDecision([flag], CallbackReply.INVALID_AMOUNT)
    captured_at = result.paid_at or now
    late = state.status not in {PaymentStatus.PENDING, PaymentStatus.FAILED}
    capture = captured_event(
        state,
        result.amount_minor,
        PaymentMethod.ONLINE_GATEWAY,
        captured_at,
        after_expiry=late,
        gateway=result.gateway,
        order_ref=result.order_ref,
        gateway_transaction_ref=result.transaction_ref,
        bank_code=result.bank_code,
    )
    if not late:
        return CallbackDecision([capture], CallbackReply.CONFIRMED)
    # Money arrived for a payment that is no longer payable (expired, cancelled, waived): it is
    # real money, so it is captured, flagged, and a refund is proposed; finance may accept it.
    flag = _flag(
        state,
        result,
        CallbackFlag.PAID_AFTER_EXPIRY,
        evidence_id,
        RESOLVE_BY_REFUND,
        state.due_minor,
    )
    proposal = RefundProposed(
        payment_id=state.payment_id,
        proposal_id=proposal_id,
        amount=PositiveMoney(amount_minor=result.amount_minor),
        source=RefundSource.PAID_AFTER_EXPIRY,
        reason=f"paid after the payment was {state.status.value}",
    )
    return CallbackDecision([capture, flag, proposal], CallbackReply.CONFIRMED)


def _decide_second_success(
    state: Payment, result: GatewayResult, evidence_id: UUID
) -> CallbackDecision:
    """A success for a payment that already holds money: a retry, or something to look at."""
    if result.order_ref == state.captured_order_ref:
        if result.amount_minor == state.captured_minor:
            return CallbackDecision([], CallbackReply.ALREADY_CONFIRMED)  # the gateway retried
        flag = _flag(
            state,
            result,
            CallbackFlag.DUPLICATE_AMOUNT_MISMATCH,
            evidence_id,
            RESOLVE_BY_STATUS_QUERY,
            state.captured_minor,
        )
        return CallbackDecision([flag], CallbackReply.ALREADY_CONFIRMED)
    # Another order of the same payment succeeded too (or it was paid at the counter): the
    # citizen paid twice. The second amount sits in suspense until it is refunded.
    flag = _flag(
        state,
        result,
        CallbackFlag.DOUBLE_PAYMENT,
        evidence_id,
        RESOLVE_BY_REFUND,
        state.captured_minor,
    )
    return CallbackDecision([flag], CallbackReply.ALREADY_CONFIRMED)


def _decide_failure(state: Payment, result: GatewayResult, evidence_id: UUID) -> CallbackDecision:
    current_order = state.order_refs[-1] if state.order_refs else None
    if state.status == PaymentStatus.PENDING and result.order_ref == current_order:
        failed = PaymentFailed(
            payment_id=state.payment_id,
            order_ref=result.order_ref,
            response_code=result.response_code,
            reason=f"gateway response code {result.response_code}",
        )
        return CallbackDecision([failed], CallbackReply.CONFIRMED)
    if result.order_ref == state.captured_order_ref:
        flag = _flag(
            state,
            result,
            CallbackFlag.RESULT_CONFLICT,
            evidence_id,
            RESOLVE_BY_STATUS_QUERY,
            state.captured_minor,
        )
        return CallbackDecision([flag], CallbackReply.ALREADY_CONFIRMED)
    return CallbackDecision([], CallbackReply.ALREADY_CONFIRMED)  # stale or repeated failure
