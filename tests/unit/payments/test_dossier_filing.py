"""Proves filing prices the dossier from the schedule in effect on the business date, refuses a
unit of the wrong level, opens a payment only when there is a fee, and that closing a paid dossier
raises a refund proposal (none when earlier proposals claim it all) while closing an unpaid one
cancels its payment, so that money still paid is late; and that receipt numbers follow the receipt
book's versions."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.domain.callbacks import GatewayResult, decide_gateway_result
from payments.domain.dossier import (
    Dossier,
    FileDossier,
    UnitLevelMismatchError,
    decide_closing,
    decide_filing,
    fold_dossier,
)
from payments.domain.errors import InvalidTransitionError
from payments.domain.payment import (
    PaymentStatus,
    decide_accept_late_capture,
    decide_checkout,
    decide_counter_payment,
    decide_refund_proposal,
    fold,
)
from payments.domain.receipts import decide_receipt, receipt_number
from schemas.envelope import EventPayload
from schemas.events.payments_v1 import (
    Channel,
    DossierRejected,
    GatewayCallbackFlagged,
    PaymentCancelled,
    PaymentCaptured,
    PaymentMethod,
    PaymentRequested,
    RefundProposed,
    RefundSource,
)

SCHEDULE = load_fee_schedule()
UNITS = load_units()
WINDOW = timedelta(hours=24)
# 2025-12-31 23:30 in Hanoi is 16:30 UTC: the old fee still applies on that business date.
LAST_DAY_OF_2025 = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)


def command(procedure: str = "TP-LLTP-01", unit: str = "VP", quantity: int = 1) -> FileDossier:
    return FileDossier(
        dossier_id=uuid.uuid4(), payment_id=uuid.uuid4(), citizen_id="079123456789",
        procedure_code=procedure, unit_code=unit, channel=Channel.ONLINE, quantity=quantity,
    )  # fmt: skip


def test_fee_comes_from_the_schedule_in_effect_on_the_business_date() -> None:
    old = decide_filing(command(), SCHEDULE, UNITS, LAST_DAY_OF_2025, WINDOW)
    new = decide_filing(command(), SCHEDULE, UNITS, LAST_DAY_OF_2025 + timedelta(hours=1), WINDOW)
    (old_request,) = old.payment_events
    (new_request,) = new.payment_events
    assert isinstance(old_request, PaymentRequested) and isinstance(new_request, PaymentRequested)
    assert (old_request.amount.amount_minor, new_request.amount.amount_minor) == (100_000, 200_000)
    assert new_request.schedule_version == SCHEDULE.version
    assert new_request.expires_at == LAST_DAY_OF_2025 + timedelta(hours=1) + WINDOW


def test_per_copy_fee_multiplies_by_quantity_at_a_commune() -> None:
    filing = decide_filing(command("HT-X-04", "VP-VY-NQ", quantity=3), SCHEDULE, UNITS,
                           LAST_DAY_OF_2025, WINDOW)  # fmt: skip
    (request,) = filing.payment_events
    assert isinstance(request, PaymentRequested) and request.amount.amount_minor == 24_000


def test_free_procedure_opens_no_payment() -> None:
    filing = decide_filing(
        command("HT-X-01", "VP-VY-NQ"), SCHEDULE, UNITS, LAST_DAY_OF_2025, WINDOW
    )
    assert filing.payment_events == []
    dossier = fold_dossier(filing.dossier_events)
    assert dossier is not None and dossier.payment_id is None


def test_unit_of_the_wrong_level_is_refused() -> None:
    with pytest.raises(UnitLevelMismatchError, match="commune"):
        decide_filing(command("TP-LLTP-01", "VP-VY-NQ"), SCHEDULE, UNITS, LAST_DAY_OF_2025, WINDOW)


def test_rejecting_a_paid_dossier_proposes_a_refund_of_what_was_paid() -> None:
    filing = decide_filing(command(), SCHEDULE, UNITS, LAST_DAY_OF_2025, WINDOW)
    payment = fold(filing.payment_events)
    assert payment is not None
    paid = fold([*filing.payment_events, *decide_counter_payment(
        payment, method=PaymentMethod.COUNTER_CASH, amount_minor=payment.due_minor,
        reference="Q1", now=LAST_DAY_OF_2025,
    )])  # fmt: skip
    dossier = fold_dossier(filing.dossier_events)
    assert dossier is not None and paid is not None
    dossier_events, payment_events = decide_closing(
        dossier, paid, rejected_by="can-bo-7", reason="thiếu giấy tờ", proposal_id=uuid.uuid4()
    )
    assert isinstance(dossier_events[0], DossierRejected)
    (proposal,) = payment_events
    assert isinstance(proposal, RefundProposed)
    assert (proposal.amount.amount_minor, proposal.source) == (
        paid.captured_minor, RefundSource.DOSSIER_REJECTED,
    )  # fmt: skip
    closed = fold_dossier([*filing.dossier_events, *dossier_events])
    assert closed is not None
    with pytest.raises(InvalidTransitionError, match="withdraw dossier"):
        decide_closing(closed, paid, rejected_by=None, reason="again", proposal_id=uuid.uuid4())


def test_receipt_number_is_the_next_version_of_the_agency_book() -> None:
    filing = decide_filing(command(), SCHEDULE, UNITS, LAST_DAY_OF_2025, WINDOW)
    requested = fold(filing.payment_events)
    assert requested is not None
    payment = fold([*filing.payment_events, *decide_counter_payment(
        requested, method=PaymentMethod.COUNTER_POS, amount_minor=requested.due_minor,
        reference="POS-1", now=LAST_DAY_OF_2025,
    )])  # fmt: skip
    assert payment is not None
    book_events, payment_events = decide_receipt(
        payment, book_version=41, year=2026, now=LAST_DAY_OF_2025
    )
    assert book_events[0].number == 42  # type: ignore[attr-defined]
    assert (
        payment_events[0].receipt_number
        == receipt_number("SO-TU-PHAP", 2026, 42)
        == (  # type: ignore[attr-defined]
            "SO-TU-PHAP-2026-000042"
        )
    )


def filed_with_open_checkout() -> tuple[Dossier, list[EventPayload]]:
    """A filed dossier whose payment is at the gateway, not paid yet."""
    filing = decide_filing(command(), SCHEDULE, UNITS, LAST_DAY_OF_2025, WINDOW)
    requested = fold(filing.payment_events)
    assert requested is not None
    checkout = decide_checkout(
        requested, gateway="VNPAY", order_ref="ORDER-1", now=LAST_DAY_OF_2025,
        gateway_expires_at=LAST_DAY_OF_2025 + timedelta(minutes=15),
    )  # fmt: skip
    dossier = fold_dossier(filing.dossier_events)
    assert dossier is not None
    return dossier, [*filing.payment_events, *checkout]


def test_closing_a_dossier_cancels_its_unpaid_payment_and_later_money_is_late() -> None:
    """Withdrawn while the citizen is still on the gateway's page: the fee is no longer owed.
    If the citizen pays anyway, the money is captured as late, flagged and proposed for refund,
    not taken as the fee of a closed dossier."""
    dossier, history = filed_with_open_checkout()
    pending = fold(history)
    assert pending is not None and pending.status is PaymentStatus.PENDING
    _, payment_events = decide_closing(
        dossier, pending, rejected_by=None, reason="nộp nhầm thủ tục", proposal_id=uuid.uuid4()
    )
    (cancelled,) = payment_events
    assert isinstance(cancelled, PaymentCancelled)
    after = fold([*history, cancelled])
    assert after is not None and after.status is PaymentStatus.CANCELLED
    paid_anyway = GatewayResult(
        gateway="VNPAY", order_ref="ORDER-1", amount_minor=after.due_minor, currency="VND",
        succeeded=True, response_code="00", transaction_ref="14012345", bank_code="NCB",
        paid_at=LAST_DAY_OF_2025,
    )  # fmt: skip
    decision = decide_gateway_result(
        after, paid_anyway, evidence_id=uuid.uuid4(), proposal_id=uuid.uuid4(),
        now=LAST_DAY_OF_2025,
    )  # fmt: skip
    assert [type(e) for e in decision.events] == [
        PaymentCaptured,
        GatewayCallbackFlagged,
        RefundProposed,
    ]
    late = fold([*history, cancelled, *decision.events])
    assert late is not None and late.status is PaymentStatus.CAPTURED_AFTER_EXPIRY
    with pytest.raises(InvalidTransitionError, match="dossier was closed; refund the money"):
        decide_accept_late_capture(late, "finance:lan", "paid anyway")  # not a fee any more


def test_closing_after_a_full_refund_was_asked_for_proposes_nothing_more() -> None:
    """The refund already asked for claims everything: closing adds no proposal (it used to
    build one of 0 VND, which the money type refuses: an error where a refusal was due)."""
    filing = decide_filing(command(), SCHEDULE, UNITS, LAST_DAY_OF_2025, WINDOW)
    requested = fold(filing.payment_events)
    assert requested is not None
    paid_events = [*filing.payment_events, *decide_counter_payment(
        requested, method=PaymentMethod.COUNTER_CASH, amount_minor=requested.due_minor,
        reference="Q1", now=LAST_DAY_OF_2025,
    )]  # fmt: skip
    paid = fold(paid_events)
    assert paid is not None
    asked = decide_refund_proposal(
        paid, proposal_id=uuid.uuid4(), amount_minor=paid.refundable_minor,
        source=RefundSource.CITIZEN_REQUEST, reason="không cần nữa",
    )  # fmt: skip
    claimed = fold([*paid_events, *asked])
    dossier = fold_dossier(filing.dossier_events)
    assert dossier is not None and claimed is not None
    dossier_events, payment_events = decide_closing(
        dossier, claimed, rejected_by="can-bo-7", reason="thiếu giấy tờ", proposal_id=uuid.uuid4()
    )
    assert isinstance(dossier_events[0], DossierRejected) and payment_events == []
