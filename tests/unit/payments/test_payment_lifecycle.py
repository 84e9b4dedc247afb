"""Proves the payment state machine: each command's allowed and refused transitions (given past
events, when a command runs, then these events or this error), the gateway-callback cases, and —
by property tests over random command sequences — that amounts never go negative, refunds never
exceed what was captured, every reachable state is consistent, and replay rebuilds it exactly."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.domain.callbacks import (
    CallbackReply,
    GatewayResult,
    decide_gateway_result,
    decide_unknown_order,
)
from payments.domain.errors import (
    AmountMismatchError,
    InvalidTransitionError,
    PaymentExpiredError,
    PaymentsDomainError,
    RefundExceedsCapturedError,
)
from payments.domain.payment import (
    Payment,
    PaymentStatus,
    decide_accept_late_capture,
    decide_cancel,
    decide_checkout,
    decide_counter_payment,
    decide_expiry,
    decide_reduction,
    decide_refund,
    decide_refund_proposal,
    evolve,
    fold,
)
from payments.domain.suspense import decide_flagged_money_refund
from schemas.envelope import EventPayload
from schemas.events.payments_v1 import (
    CallbackFlag,
    FlaggedMoneyRefunded,
    GatewayCallbackFlagged,
    PaymentCaptured,
    PaymentFailed,
    PaymentMethod,
    RefundProposed,
    RefundSource,
)
from tests.factories import BASE_AT, payment_requested

FEE = 50_000
NOW = BASE_AT + timedelta(minutes=1)


def requested(**overrides: Any) -> list[EventPayload]:
    return [payment_requested(amount={"amount_minor": FEE, "currency": "VND"}, **overrides)]


def apply(
    history: list[EventPayload], new: list[EventPayload]
) -> tuple[Payment, list[EventPayload]]:
    events = [*history, *new]
    state = fold(events)
    assert state is not None
    return state, events


def checked_out(order_ref: str = "ORDER-1") -> list[EventPayload]:
    state, history = apply(requested(), [])
    _, history = apply(
        history,
        decide_checkout(
            state,
            gateway="VNPAY",
            order_ref=order_ref,
            now=NOW,
            gateway_expires_at=NOW + timedelta(minutes=15),
        ),
    )
    return history


def result(order_ref: str = "ORDER-1", amount: int = FEE, ok: bool = True) -> GatewayResult:
    return GatewayResult(
        gateway="VNPAY",
        order_ref=order_ref,
        amount_minor=amount,
        currency="VND",
        succeeded=ok,
        response_code="00" if ok else "24",
        transaction_ref="14012345",
        bank_code="NCB",
        paid_at=NOW,
    )


def callback(history: list[EventPayload], gateway_result: GatewayResult) -> Any:
    state = fold(history)
    assert state is not None
    return decide_gateway_result(
        state, gateway_result, evidence_id=uuid.uuid4(), proposal_id=uuid.uuid4(), now=NOW
    )


def test_checkout_moves_requested_to_pending_with_a_fresh_order() -> None:
    state, _ = apply(checked_out(), [])
    assert state.status == PaymentStatus.PENDING
    assert state.order_refs == ("ORDER-1",)


def test_successful_callback_captures_exactly_once() -> None:
    history = checked_out()
    decision = callback(history, result())
    assert decision.reply == CallbackReply.CONFIRMED
    assert [type(e) for e in decision.events] == [PaymentCaptured]
    state, history = apply(history, decision.events)
    assert (state.status, state.captured_minor) == (PaymentStatus.SUCCEEDED, FEE)
    again = callback(history, result())
    assert (again.events, again.reply) == ([], CallbackReply.ALREADY_CONFIRMED)


def test_callback_with_another_amount_is_flagged_not_captured() -> None:
    decision = callback(checked_out(), result(amount=FEE - 1))
    assert decision.reply == CallbackReply.INVALID_AMOUNT
    (flag,) = decision.events
    assert isinstance(flag, GatewayCallbackFlagged) and flag.flag == CallbackFlag.AMOUNT_MISMATCH


def test_the_same_wrong_amount_reported_again_is_flagged_once() -> None:
    """A retried callback or a status query reporting the same money: one flag, so the ledger
    holds that money in suspense once; the reply stays the same."""
    history = checked_out()
    first = callback(history, result(amount=FEE - 1))
    _, history = apply(history, first.events)
    again = callback(history, result(amount=FEE - 1))
    assert (again.events, again.reply) == ([], CallbackReply.INVALID_AMOUNT)
    paid_right = callback(history, result())  # the right amount still captures
    assert [type(e) for e in paid_right.events] == [PaymentCaptured]


def test_an_unknown_order_reported_again_is_flagged_once() -> None:
    first = decide_unknown_order(result("NOT-OURS"), uuid.uuid4())
    again = decide_unknown_order(result("NOT-OURS"), uuid.uuid4(), money_flagged_before=True)
    assert len(first.events) == 1 and again.events == []
    assert first.reply == again.reply == CallbackReply.ORDER_NOT_FOUND


def test_duplicate_success_with_a_different_amount_is_flagged() -> None:
    history = checked_out()
    _, history = apply(history, callback(history, result()).events)
    decision = callback(history, result(amount=FEE * 2))
    assert decision.reply == CallbackReply.ALREADY_CONFIRMED
    assert decision.events[0].flag == CallbackFlag.DUPLICATE_AMOUNT_MISMATCH  # type: ignore[attr-defined]


def test_failure_then_retry_with_a_new_order() -> None:
    history = checked_out()
    decision = callback(history, result(ok=False))
    assert [type(e) for e in decision.events] == [PaymentFailed]
    state, history = apply(history, decision.events)
    assert state.status == PaymentStatus.FAILED
    retry = decide_checkout(
        state, gateway="VNPAY", order_ref="ORDER-2", now=NOW, gateway_expires_at=NOW
    )
    state, _ = apply(history, retry)
    assert (state.status, state.attempts) == (PaymentStatus.PENDING, 2)


def test_paid_after_expiry_is_captured_flagged_and_proposed_for_refund() -> None:
    history = checked_out()
    state, history = apply(history, decide_expiry(fold(history), BASE_AT + timedelta(hours=1)))  # type: ignore[arg-type]
    assert state.status == PaymentStatus.EXPIRED
    decision = callback(history, result())
    assert decision.reply == CallbackReply.CONFIRMED
    assert [type(e) for e in decision.events] == [
        PaymentCaptured,
        GatewayCallbackFlagged,
        RefundProposed,
    ]
    state, history = apply(history, decision.events)
    assert state.status == PaymentStatus.CAPTURED_AFTER_EXPIRY
    accepted, _ = apply(history, decide_accept_late_capture(state, "finance:lan", "citizen asked"))
    assert accepted.status == PaymentStatus.SUCCEEDED


def test_callback_for_an_order_the_payment_never_issued_is_unknown() -> None:
    decision = callback(checked_out(), result(order_ref="FORGED-9"))
    assert decision.reply == CallbackReply.ORDER_NOT_FOUND
    assert decision.events[0].flag == CallbackFlag.UNKNOWN_ORDER  # type: ignore[attr-defined]


def test_counter_payment_needs_the_exact_amount_and_no_checkout_in_progress() -> None:
    state, _ = apply(requested(), [])
    with pytest.raises(AmountMismatchError, match="amount_minor is 1 VND"):
        decide_counter_payment(
            state, method=PaymentMethod.COUNTER_CASH, amount_minor=1, reference="Q1", now=NOW
        )
    pending, _ = apply(checked_out(), [])
    with pytest.raises(InvalidTransitionError, match="pending"):
        decide_counter_payment(
            pending, method=PaymentMethod.COUNTER_CASH, amount_minor=FEE, reference="Q1", now=NOW
        )
    events = decide_counter_payment(
        state, method=PaymentMethod.COUNTER_POS, amount_minor=FEE, reference="POS-77", now=NOW
    )
    paid, _ = apply(requested(), events)
    assert (paid.status, paid.method) == (PaymentStatus.SUCCEEDED, PaymentMethod.COUNTER_POS)


def test_partial_then_full_refund_and_never_more() -> None:
    state, history = apply(requested(), [])
    state, history = apply(
        history,
        decide_counter_payment(
            state, method=PaymentMethod.COUNTER_CASH, amount_minor=FEE, reference="Q", now=NOW
        ),
    )
    state, history = apply(
        history,
        decide_refund(
            state,
            refund_id=uuid.uuid4(),
            amount_minor=20_000,
            reason="over-charged copies",
            approved_by="clerk:an",
        ),
    )
    assert (state.status, state.refundable_minor) == (PaymentStatus.PARTIALLY_REFUNDED, 30_000)
    with pytest.raises(RefundExceedsCapturedError):
        decide_refund(
            state,
            refund_id=uuid.uuid4(),
            amount_minor=30_001,
            reason="too much",
            approved_by="clerk:an",
        )
    state, _ = apply(
        history,
        decide_refund(
            state,
            refund_id=uuid.uuid4(),
            amount_minor=30_000,
            reason="dossier withdrawn",
            approved_by="clerk:an",
        ),
    )
    assert state.status == PaymentStatus.REFUNDED


def test_invalid_transitions_name_the_state_and_command() -> None:
    state, _ = apply(requested(), [])
    with pytest.raises(InvalidTransitionError, match="cannot refund a payment that is requested"):
        decide_refund(
            state, refund_id=uuid.uuid4(), amount_minor=1, reason="why not", approved_by="clerk:x"
        )
    cancelled, _ = apply(requested(), decide_cancel(state, "citizen changed mind"))
    with pytest.raises(
        InvalidTransitionError, match="cannot check out a payment that is cancelled"
    ):
        decide_checkout(cancelled, gateway="VNPAY", order_ref="O", now=NOW, gateway_expires_at=NOW)


def test_checkout_after_the_deadline_is_refused() -> None:
    state, _ = apply(requested(), [])
    with pytest.raises(PaymentExpiredError):
        decide_checkout(
            state, gateway="VNPAY", order_ref="O", now=state.expires_at, gateway_expires_at=NOW
        )


def test_full_exemption_waives_the_payment() -> None:
    state, _ = apply(requested(), [])
    waived, _ = apply(
        requested(), decide_reduction(state, FEE, "Nghị định 120/2016 điều 5", "clerk:an")
    )
    assert (waived.status, waived.due_minor) == (PaymentStatus.WAIVED, 0)


# ---------------------------------------------------------------- properties

COMMANDS = (
    "checkout",
    "ok",
    "fail",
    "bad_amount",
    "expire",
    "cancel",
    "counter",
    "refund",
    "propose",
    "approve",
    "reduce",
    "accept_late",
    "late_ok",
)


def step(state: Payment, command: str, amount: int, n: int) -> list[EventPayload]:
    """Run one command against the state; refused commands return no events."""
    order = state.order_refs[-1] if state.order_refs else "NONE"
    try:
        match command:
            case "checkout":
                return decide_checkout(
                    state, gateway="VNPAY", order_ref=f"O{n}", now=NOW, gateway_expires_at=NOW
                )
            case "ok" | "late_ok":
                return decide_gateway_result(
                    state,
                    result(order, state.due_minor),
                    evidence_id=uuid.uuid4(),
                    proposal_id=uuid.uuid4(),
                    now=NOW,
                ).events
            case "fail":
                return decide_gateway_result(
                    state,
                    result(order, ok=False),
                    evidence_id=uuid.uuid4(),
                    proposal_id=uuid.uuid4(),
                    now=NOW,
                ).events
            case "bad_amount":
                return decide_gateway_result(
                    state,
                    result(order, amount),
                    evidence_id=uuid.uuid4(),
                    proposal_id=uuid.uuid4(),
                    now=NOW,
                ).events
            case "expire":
                return decide_expiry(state, state.expires_at)
            case "cancel":
                return decide_cancel(state, "changed mind")
            case "counter":
                return decide_counter_payment(
                    state,
                    method=PaymentMethod.COUNTER_CASH,
                    amount_minor=state.due_minor,
                    reference="Q",
                    now=NOW,
                )
            case "refund":
                return decide_refund(
                    state,
                    refund_id=uuid.uuid4(),
                    amount_minor=amount,
                    reason="refund asked",
                    approved_by="clerk:x",
                )
            case "propose":
                return decide_refund_proposal(
                    state,
                    proposal_id=uuid.uuid4(),
                    amount_minor=amount,
                    source=RefundSource.CITIZEN_REQUEST,
                    reason="refund asked",
                )
            case "approve":
                proposal_id, proposed = next(
                    iter(state.open_proposals.items()), (uuid.uuid4(), amount)
                )
                return decide_refund(
                    state,
                    refund_id=uuid.uuid4(),
                    amount_minor=proposed,
                    reason="approved",
                    approved_by="clerk:y",
                    proposal_id=proposal_id,
                )
            case "reduce":
                return decide_reduction(state, amount, "Thông tư 85/2019", "clerk:z")
            case "accept_late":
                return decide_accept_late_capture(state, "finance:q", "keep it")
    except PaymentsDomainError:
        return []
    raise AssertionError(command)


def check_consistent(state: Payment) -> None:
    assert 0 <= state.refunded_minor <= state.captured_minor
    assert 0 <= state.due_minor <= state.scheduled_minor
    assert (
        sum(state.open_proposals.values()) <= state.refundable_minor or state.open_proposals == {}
    )
    money_held = {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.CAPTURED_AFTER_EXPIRY,
        PaymentStatus.REFUNDED,
    }
    assert (state.captured_minor > 0) == (state.status in money_held) or (
        state.status == PaymentStatus.REFUNDED
    )
    if state.status == PaymentStatus.REFUNDED:
        assert state.refunded_minor == state.captured_minor > 0
    if state.status == PaymentStatus.PARTIALLY_REFUNDED:
        assert 0 < state.refunded_minor < state.captured_minor


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(COMMANDS), st.integers(min_value=1, max_value=2 * FEE)),
        max_size=25,
    )
)
def test_every_reachable_state_is_consistent_and_replays_exactly(
    commands: list[tuple[str, int]],
) -> None:
    history = requested()
    state = fold(history)
    assert state is not None
    for n, (command, amount) in enumerate(commands):
        new = step(state, command, amount, n)
        for event in new:
            state = evolve(state, event)
        history.extend(new)
        check_consistent(state)
    assert fold(history) == state


def test_a_double_payment_is_held_then_refunded_whole_and_only_once() -> None:
    """Two orders of one payment both paid (the first reported failed, then paid after all):
    the second money waits in suspense (DOUBLE_PAYMENT) until a clerk gives it back; the fee
    stays captured, and the same money goes back once."""
    history = checked_out("ORDER-1")
    _, history = apply(history, callback(history, result("ORDER-1", ok=False)).events)
    state, history = apply(
        history,
        decide_checkout(
            fold(history),  # type: ignore[arg-type]
            gateway="VNPAY",
            order_ref="ORDER-2",
            now=NOW,
            gateway_expires_at=NOW + timedelta(minutes=15),
        ),
    )
    state, history = apply(history, callback(history, result("ORDER-2")).events)
    twice = callback(history, result("ORDER-1"))
    (flag,) = twice.events
    assert isinstance(flag, GatewayCallbackFlagged) and flag.flag == CallbackFlag.DOUBLE_PAYMENT
    state, history = apply(history, twice.events)
    assert {k: v.amount_minor for k, v in state.flagged_money.items()} == {flag.evidence_id: FEE}

    refund_id = uuid.uuid4()
    (refunded,) = decide_flagged_money_refund(
        state, evidence_id=flag.evidence_id, refund_id=refund_id, reason="paid twice",
        approved_by="can-bo-07",
    )  # fmt: skip
    assert isinstance(refunded, FlaggedMoneyRefunded)
    assert (refunded.refund_id, refunded.order_ref, refunded.amount.amount_minor) == (
        refund_id, "ORDER-1", FEE,
    )  # fmt: skip
    state, history = apply(history, [refunded])
    assert state.flagged_money == {}
    assert (state.status, state.captured_minor, state.refunded_minor) == (
        PaymentStatus.SUCCEEDED, FEE, 0,
    )  # fmt: skip
    with pytest.raises(InvalidTransitionError, match="held in suspense"):
        decide_flagged_money_refund(
            state, evidence_id=flag.evidence_id, refund_id=uuid.uuid4(), reason="again",
            approved_by="can-bo-07",
        )  # fmt: skip


def test_only_flagged_money_that_moved_can_be_refunded_from_suspense() -> None:
    history = checked_out()
    wrong = callback(history, result(amount=FEE - 1))  # money moved: held
    failed_wrong = callback(history, result(amount=FEE - 1, ok=False))  # nothing moved
    state, _ = apply(history, [*wrong.events, *failed_wrong.events])
    assert [k for k in state.flagged_money] == [wrong.events[0].evidence_id]
    with pytest.raises(InvalidTransitionError, match="never flagged"):
        decide_flagged_money_refund(
            state, evidence_id=uuid.uuid4(), refund_id=uuid.uuid4(), reason="no such money",
            approved_by="can-bo-07",
        )  # fmt: skip


def test_one_order_s_money_is_held_and_given_back_once_whatever_flag_it_returns_under() -> None:
    """ORDER-1 is paid a wrong amount (flagged, held), then reported failed; ORDER-2 pays the
    fee; the gateway retries ORDER-1's success: the same money, now a "double payment", is not
    held a second time, so it cannot be refunded twice."""
    history = checked_out("ORDER-1")
    wrong = callback(history, result("ORDER-1", amount=FEE + 1_000))
    _, history = apply(history, wrong.events)
    _, history = apply(history, callback(history, result("ORDER-1", ok=False)).events)
    _, history = apply(
        history,
        decide_checkout(
            fold(history),  # type: ignore[arg-type]
            gateway="VNPAY", order_ref="ORDER-2", now=NOW,
            gateway_expires_at=NOW + timedelta(minutes=15),
        ),
    )  # fmt: skip
    _, history = apply(history, callback(history, result("ORDER-2")).events)
    retried = callback(history, result("ORDER-1", amount=FEE + 1_000))
    assert retried.events == [] and retried.reply == CallbackReply.ALREADY_CONFIRMED
    state, _ = apply(history, retried.events)
    assert [held.amount_minor for held in state.flagged_money.values()] == [FEE + 1_000]
