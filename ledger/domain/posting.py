"""Posting rules: which event posts which journal entry. Pure, and the only place they live.

Every entry's postings sum to zero (debits positive, credits negative, integer VND). An event
posts at most one entry, identified by the event's id, so posting the same event twice is
recognisable and refused by the journal. The table in docs/ledger.md is this module in words.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from events.errors import ensure
from ledger.domain.accounts import AccountClass, account
from schemas.envelope import EventHeader, EventPayload
from schemas.events.payments_v1 import (
    FlaggedMoneyRefunded,
    GatewayCallbackFlagged,
    LateCaptureAccepted,
    PaymentCaptured,
    PaymentMethod,
    RefundIssued,
)
from schemas.events.reconciliation_v1 import Direction, Match, MatchUndone, SettlementsMatched
from schemas.events.reconciliation_v2 import SettlementsMatchedV2
from schemas.time import business_date

UNAPPLIED = "UNAPPLIED"  # suspense for gateway money that no payment can take
# The only event types `entry_for` posts from (a replay reads no others; a test holds this true).
POSTED_EVENT_TYPES = frozenset({
    "PaymentCaptured", "LateCaptureAccepted", "RefundIssued", "GatewayCallbackFlagged",
    "FlaggedMoneyRefunded",
    "SettlementsMatched", "MatchUndone",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Posting:
    account_code: str
    amount_minor: int  # debit > 0, credit < 0
    agency_code: str | None = None
    unit_code: str | None = None
    procedure_code: str | None = None
    payment_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    event_id: UUID
    position: int
    event_type: str
    business_date: date
    occurred_at: datetime
    description: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        amounts = [p.amount_minor for p in self.postings]
        if len(amounts) < 2 or 0 in amounts or sum(amounts) != 0:  # the message only on failure
            ensure(len(amounts) >= 2, f"entry {self.event_id} has fewer than two postings")
            ensure(0 not in amounts, f"entry {self.event_id} has a posting of zero")
            ensure(sum(amounts) == 0, f"entry {self.event_id} unbalanced")


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


CLEARING_CLASSES = {
    "gateway": AccountClass.GATEWAY_CLEARING,
    "pos": AccountClass.POS_CLEARING,
    "cash": AccountClass.CASH_ON_HAND,
    "refunds": AccountClass.REFUNDS_PAYABLE,
    "suspense": AccountClass.SUSPENSE,
}


# Where the gap of a credit match (the items' gross less what the bank received) is posted: a
# gateway's fee for gateway money; for counter cash or card, money that never arrived. Posting
# rules are dated like matching rules: settlements of business days before SHORTFALL_FROM post
# every gap as a fee, as they did when recorded, so a replay rebuilds the same ledger and an
# undone match reverses into the account its match used (an unmatch is on the match's own day).
SHORTFALL_FROM = date(2026, 12, 7)


def _gap_class(kind: str, business_date: date) -> AccountClass:
    if kind == "gateway" or business_date < SHORTFALL_FROM:
        return AccountClass.GATEWAY_FEE_EXPENSE
    return AccountClass.SETTLEMENT_SHORTFALL


def _settlements(matches: Sequence[Match], sign: int, business_date: date) -> tuple[Posting, ...]:
    """Bank settlements, summed per account: a credit debits the bank with what arrived and the
    gateway fee expense with what the gateway kept (the unit's settlement shortfall, for cash or
    card a second officer matched short), and credits the clearing account with the gross it
    clears; a debit (a refund paid out) does the reverse without a fee. `sign` -1
    reverses an undone match."""
    totals: dict[str, int] = defaultdict(int)
    for match in matches:
        kind, qualifier = match.clearing.split(":", 1)
        clearing = account(CLEARING_CLASSES[kind], qualifier)
        bank = account(AccountClass.BANK, match.bank_account)
        if match.direction is Direction.CREDIT:
            totals[bank] += match.net_minor
            totals[account(_gap_class(kind, business_date), qualifier)] += match.fee_minor
            totals[clearing] -= match.gross_minor
        else:
            totals[clearing] += match.gross_minor
            totals[bank] -= match.net_minor
    return tuple(Posting(code, sign * amount) for code, amount in sorted(totals.items()) if amount)


def _settlement_entry(
    envelope: EventHeader, event: SettlementsMatched | SettlementsMatchedV2 | MatchUndone
) -> JournalEntry | None:
    if isinstance(event, SettlementsMatched | SettlementsMatchedV2):
        matches = event.match_rows()
        postings = _settlements(matches, 1, event.business_date)
        description = f"bank settlement of {len(matches)} match(es)"
    else:
        postings = _settlements([event.match], -1, event.business_date)
        description = "bank settlement undone"
    if not postings:
        return None
    return JournalEntry(
        event_id=envelope.event_id,
        position=envelope.position,
        event_type=envelope.event_type,
        business_date=event.business_date,
        occurred_at=envelope.occurred_at,
        description=description,
        postings=postings,
    )


def entry_for(envelope: EventHeader, event: EventPayload) -> JournalEntry | None:
    """The journal entry an event posts, or None for events that move no money."""
    moment = envelope.occurred_at
    match event:
        case SettlementsMatched() | SettlementsMatchedV2() | MatchUndone():
            return _settlement_entry(envelope, event)
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
        case FlaggedMoneyRefunded():
            description = "flagged gateway money refunded, owed to the citizen"
            postings = _pair(
                account(AccountClass.SUSPENSE, UNAPPLIED),
                account(AccountClass.REFUNDS_PAYABLE, event.agency_code),
                event.amount.amount_minor, agency_code=event.agency_code,
                unit_code=event.unit_code, procedure_code=event.procedure_code,
                payment_id=event.payment_id,
            )  # fmt: skip
        case GatewayCallbackFlagged() if (moved := event.moved_money) is not None:
            description = f"gateway money without a fee to take it ({event.flag.value})"
            postings = _pair(
                account(AccountClass.GATEWAY_CLEARING, event.gateway),
                account(AccountClass.SUSPENSE, UNAPPLIED),
                moved.amount_minor, payment_id=event.payment_id,
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
