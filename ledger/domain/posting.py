"""Posting rules: which event posts which journal entry. Pure, and the only place they live.

Every entry's postings sum to zero (debits positive, credits negative, integer VND). An event
posts at most one entry, identified by the event's id, so posting the same event twice is
recognisable and refused by the journal. The table in docs/ledger.md is this module in words.
"""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from events.errors import ensure
from ledger.domain.accounts import AccountClass, account
from schemas.envelope import EventEnvelope, EventPayload
from schemas.events.payments_v1 import (
    CallbackFlag,
    GatewayCallbackFlagged,
    LateCaptureAccepted,
    PaymentCaptured,
    PaymentMethod,
    RefundIssued,
)
from schemas.time import business_date

UNAPPLIED = "UNAPPLIED"  # suspense for gateway money that no payment can take
# Flags whose callbacks moved money (when the gateway reported success) that no fee can absorb.
MONEY_MOVING_FLAGS = {
    CallbackFlag.AMOUNT_MISMATCH,
    CallbackFlag.DOUBLE_PAYMENT,
    CallbackFlag.UNKNOWN_ORDER,
}


@dataclass(frozen=True)
class Posting:
    account_code: str
    amount_minor: int  # debit > 0, credit < 0
    agency_code: str | None = None
    unit_code: str | None = None
    procedure_code: str | None = None
    payment_id: UUID | None = None


@dataclass(frozen=True)
class JournalEntry:
    event_id: UUID
    position: int
    event_type: str
    business_date: date
    occurred_at: datetime
    description: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        ensure(len(self.postings) >= 2, f"entry {self.event_id} has fewer than two postings")
        ensure(all(p.amount_minor != 0 for p in self.postings), "a posting of zero")
        ensure(sum(p.amount_minor for p in self.postings) == 0, f"entry {self.event_id} unbalanced")


def _pair(
    debit: str, credit: str, amount_minor: int, **dimensions: object
) -> tuple[Posting, Posting]:
    return (
        Posting(debit, amount_minor, **dimensions),  # type: ignore[arg-type]
        Posting(credit, -amount_minor, **dimensions),  # type: ignore[arg-type]
    )


def _capture(event: PaymentCaptured) -> tuple[str, tuple[Posting, ...], datetime]:
    match event.method:
        case PaymentMethod.ONLINE_GATEWAY:
            debit = account(AccountClass.GATEWAY_CLEARING, event.gateway or "UNKNOWN")
        case PaymentMethod.COUNTER_CASH:
            debit = account(AccountClass.CASH_ON_HAND, event.unit_code)
        case PaymentMethod.COUNTER_POS:
            debit = account(AccountClass.POS_CLEARING, event.unit_code)
    credit = account(
        AccountClass.SUSPENSE if event.after_expiry else AccountClass.FEE_REVENUE, event.agency_code
    )
    postings = _pair(
        debit, credit, event.amount.amount_minor, agency_code=event.agency_code,
        unit_code=event.unit_code, procedure_code=event.procedure_code,
        payment_id=event.payment_id,
    )  # fmt: skip
    what = "late payment held in suspense" if event.after_expiry else "fee received"
    return f"{what} ({event.method.value})", postings, event.captured_at


def _refund(event: RefundIssued) -> tuple[str, tuple[Posting, ...]]:
    source = AccountClass.SUSPENSE if event.from_suspense else AccountClass.FEE_REVENUE
    postings = _pair(
        account(source, event.agency_code),
        account(AccountClass.REFUNDS_PAYABLE, event.agency_code),
        event.amount.amount_minor, agency_code=event.agency_code, unit_code=event.unit_code,
        procedure_code=event.procedure_code, payment_id=event.payment_id,
    )  # fmt: skip
    return "refund approved, owed to the citizen", postings


def entry_for(envelope: EventEnvelope, event: EventPayload) -> JournalEntry | None:
    """The journal entry an event posts, or None for events that move no money."""
    moment = envelope.occurred_at
    match event:
        case PaymentCaptured():
            description, postings, moment = _capture(event)
        case LateCaptureAccepted():
            description = "late payment applied to the fee"
            postings = _pair(
                account(AccountClass.SUSPENSE, event.agency_code),
                account(AccountClass.FEE_REVENUE, event.agency_code),
                event.amount.amount_minor, agency_code=event.agency_code,
                unit_code=event.unit_code, procedure_code=event.procedure_code,
                payment_id=event.payment_id,
            )  # fmt: skip
        case RefundIssued():
            description, postings = _refund(event)
        case GatewayCallbackFlagged() if (
            event.gateway_reported_success
            and event.flag in MONEY_MOVING_FLAGS
            and event.received_amount is not None
            and event.received_amount.amount_minor > 0
        ):
            description = f"gateway money without a fee to take it ({event.flag.value})"
            postings = _pair(
                account(AccountClass.GATEWAY_CLEARING, event.gateway),
                account(AccountClass.SUSPENSE, UNAPPLIED),
                event.received_amount.amount_minor, payment_id=event.payment_id,
            )  # fmt: skip
        case _:
            return None
    return JournalEntry(
        event_id=envelope.event_id,
        position=envelope.position,
        event_type=envelope.event_type,
        business_date=business_date(moment),
        occurred_at=moment,
        description=description,
        postings=postings,
    )
