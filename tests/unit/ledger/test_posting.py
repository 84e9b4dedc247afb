"""Proves the posting rules: each money event posts one balanced entry to the accounts a finance
officer expects (fee received online / cash / card, late money to suspense and then to revenue,
refunds owed, unapplied gateway money), events that move no money post nothing, and over a whole
simulated day every entry balances and revenue equals what was kept."""

import uuid
from collections import defaultdict
from datetime import timedelta

import pytest

from ledger.domain.accounts import AccountKind, kind_of
from ledger.domain.posting import POSTED_EVENT_TYPES, JournalEntry, Posting, entry_for
from schemas.envelope import EventEnvelope, EventPayload
from schemas.events.payments_v1 import (
    CallbackFlag,
    FlaggedMoneyRefunded,
    GatewayCallbackFlagged,
    PaymentCaptured,
    PaymentMethod,
    RefundIssued,
)
from schemas.money import Money, PositiveMoney
from tests.unit.history import START_AT, simulated_history

PAYMENT = uuid.uuid4()


def envelope(event: EventPayload, position: int = 7) -> EventEnvelope:
    return EventEnvelope(
        position=position, event_id=uuid.uuid4(), stream_id=f"payment-{PAYMENT}",
        stream_version=2, event_type=event.event_type, schema_version=event.schema_version,
        occurred_at=START_AT, recorded_at=START_AT, correlation_id=uuid.uuid4(),
        actor="gateway:vnpay", payload=event.to_payload(),
    )  # fmt: skip


def captured(method: PaymentMethod, after_expiry: bool = False) -> PaymentCaptured:
    return PaymentCaptured(
        payment_id=PAYMENT, dossier_id=uuid.uuid4(), amount=PositiveMoney(amount_minor=200_000),
        method=method, agency_code="SO-TU-PHAP", unit_code="VP", procedure_code="TP-LLTP-01",
        captured_at=START_AT + timedelta(hours=15, minutes=30),  # 23:30 in Hanoi: same day
        gateway="VNPAY" if method == PaymentMethod.ONLINE_GATEWAY else None,
        after_expiry=after_expiry,
    )  # fmt: skip


def lines(entry: JournalEntry | None) -> dict[str, int]:
    assert entry is not None
    return {posting.account_code: posting.amount_minor for posting in entry.postings}


@pytest.mark.parametrize(
    ("method", "debit"),
    [
        (PaymentMethod.ONLINE_GATEWAY, "GATEWAY_CLEARING:VNPAY"),
        (PaymentMethod.COUNTER_CASH, "CASH_ON_HAND:VP"),
        (PaymentMethod.COUNTER_POS, "POS_CLEARING:VP"),
    ],
)
def test_a_fee_received_debits_where_the_money_is_and_credits_the_agency(
    method: PaymentMethod, debit: str
) -> None:
    event = captured(method)
    entry = entry_for(envelope(event), event)
    assert lines(entry) == {debit: 200_000, "FEE_REVENUE:SO-TU-PHAP": -200_000}
    assert entry is not None and str(entry.business_date) == "2026-11-24"
    assert all(p.procedure_code == "TP-LLTP-01" for p in entry.postings)


def test_money_after_expiry_waits_in_suspense() -> None:
    event = captured(PaymentMethod.ONLINE_GATEWAY, after_expiry=True)
    assert lines(entry_for(envelope(event), event)) == {
        "GATEWAY_CLEARING:VNPAY": 200_000, "SUSPENSE:SO-TU-PHAP": -200_000,
    }  # fmt: skip


def test_a_refund_reverses_revenue_into_refunds_payable() -> None:
    event = RefundIssued(
        payment_id=PAYMENT, refund_id=uuid.uuid4(), amount=PositiveMoney(amount_minor=50_000),
        reason="thừa bản sao", approved_by="can-bo-7", method=PaymentMethod.COUNTER_CASH,
        agency_code="SO-TU-PHAP", unit_code="VP", procedure_code="TP-LLTP-01",
    )  # fmt: skip
    assert lines(entry_for(envelope(event), event)) == {
        "FEE_REVENUE:SO-TU-PHAP": 50_000, "REFUNDS_PAYABLE:SO-TU-PHAP": -50_000,
    }  # fmt: skip


def test_unapplied_gateway_money_goes_to_suspense_only_when_money_moved() -> None:
    def flag(flag: CallbackFlag, success: bool) -> GatewayCallbackFlagged:
        return GatewayCallbackFlagged(
            payment_id=None, gateway="VNPAY", order_ref="X1", flag=flag,
            gateway_reported_success=success, expected_amount=None,
            received_amount=Money(amount_minor=10_000), evidence_id=uuid.uuid4(),
            resolution="finance reviews",
        )  # fmt: skip

    unknown = flag(CallbackFlag.UNKNOWN_ORDER, True)
    assert lines(entry_for(envelope(unknown), unknown)) == {
        "GATEWAY_CLEARING:VNPAY": 10_000, "SUSPENSE:UNAPPLIED": -10_000,
    }  # fmt: skip
    for quiet in (flag(CallbackFlag.UNKNOWN_ORDER, False),
                  flag(CallbackFlag.DUPLICATE_AMOUNT_MISMATCH, True)):  # fmt: skip
        assert entry_for(envelope(quiet), quiet) is None


def test_flagged_money_refunded_leaves_suspense_for_refunds_payable() -> None:
    """What the flag put in suspense (above) goes back out of it, owed to the citizen; the
    bank's payout then settles refunds payable like any refund."""
    event = FlaggedMoneyRefunded(
        payment_id=PAYMENT, refund_id=uuid.uuid4(), evidence_id=uuid.uuid4(), order_ref="X1",
        gateway="VNPAY", amount=PositiveMoney(amount_minor=10_000), reason="paid twice",
        approved_by="can-bo-7", agency_code="SO-TU-PHAP", unit_code="VP",
        procedure_code="TP-LLTP-01",
    )  # fmt: skip
    assert lines(entry_for(envelope(event), event)) == {
        "SUSPENSE:UNAPPLIED": 10_000, "REFUNDS_PAYABLE:SO-TU-PHAP": -10_000,
    }  # fmt: skip


def test_an_unbalanced_entry_cannot_exist() -> None:
    with pytest.raises(Exception, match="unbalanced"):
        JournalEntry(uuid.uuid4(), 1, "X", START_AT.date(), START_AT, "bad",
                     (Posting("BANK:1", 10), Posting("FEE_REVENUE:A", -9)))  # fmt: skip


def test_a_whole_simulated_day_balances_and_revenue_is_what_was_kept() -> None:
    history = simulated_history(300)
    entries = [entry_for(env, event) for env, event in history]
    posted = [entry for entry in entries if entry is not None]
    assert len({entry.event_id for entry in posted}) == len(posted)
    balances: dict[str, int] = defaultdict(int)
    for entry in posted:
        for posting in entry.postings:
            balances[posting.account_code] += posting.amount_minor
    assert sum(balances.values()) == 0
    kept = sum(
        event.amount.amount_minor for _, event in history
        if isinstance(event, PaymentCaptured) and not event.after_expiry
    ) - sum(
        event.amount.amount_minor for _, event in history
        if isinstance(event, RefundIssued) and not event.from_suspense
    )  # fmt: skip
    revenue = -sum(v for k, v in balances.items() if kind_of(k) == AccountKind.REVENUE)
    late_accepted = sum(
        -v for k, v in balances.items() if k.startswith("SUSPENSE:") and k != "SUSPENSE:UNAPPLIED"
    )  # suspense still open (late money neither accepted nor refunded) is not revenue
    assert revenue + late_accepted >= kept


def test_only_the_declared_event_types_post() -> None:
    """A replay reads only POSTED_EVENT_TYPES: no other event of a simulated day posts."""
    for envelope, event in simulated_history(120):
        if envelope.event_type not in POSTED_EVENT_TYPES:
            assert entry_for(envelope, event) is None, envelope.event_type
