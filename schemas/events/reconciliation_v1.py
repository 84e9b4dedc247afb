"""Reconciliation-context events, schema version 1.

Streams: `settlementfile-<file id>` (one imported bank statement: a header event, then its lines in
chunks) and `reconday-<bank account>-<yyyymmdd>` (one bank account's business day: matching runs,
exceptions, manual decisions, close and reopen). Every decision that moves money carries the
figures the ledger posts from, so the ledger never has to look anything up.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from schemas.envelope import EventPayload
from schemas.events.payments_v1 import OfficerId, Reason
from schemas.money import AmountMinor, PositiveAmountMinor
from schemas.time import UtcInstant

LINES_PER_EVENT_MAX = 1000
MATCHES_PER_EVENT_MAX = 1000
EXCEPTIONS_PER_EVENT_MAX = 1000
ITEMS_PER_MATCH_MAX = 100_000  # a gateway's daily lump can settle many payments at once

BankAccount = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9\-]{3,33}$")]
BankReference = Annotated[str, Field(min_length=1, max_length=64)]
# "<file id>:<line number>": a line's identity, stable across replays.
LineKey = Annotated[str, Field(pattern=r"^[0-9a-f\-]{36}:[0-9]{1,9}$")]
# Where money is credited from or debited to, in the ledger's terms: "gateway:VNPAY",
# "pos:<unit>", "cash:<unit>", "refunds:<agency>" or "suspense:UNIDENTIFIED".
CLEARING_PATTERN = r"^(gateway|pos|cash|refunds|suspense):[A-Z0-9._\-]{1,64}$"
Clearing = Annotated[str, Field(pattern=CLEARING_PATTERN)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Confidence = Annotated[StrictInt, Field(ge=0, le=100)]  # percent


class Direction(StrEnum):
    CREDIT = "credit"  # money into the province's account
    DEBIT = "debit"  # money out (refunds, reversals, bank charges)


class StatementFormat(StrEnum):
    CAMT053 = "camt053"
    MT940 = "mt940"
    CSV = "csv"


class MatchStage(StrEnum):
    EXACT_REFERENCE = "exact_reference"  # a payment or gateway reference in the line
    TRANSFER_NOTE = "transfer_note"  # a payment/dossier code found in a hand-typed note
    AMOUNT_DATE = "amount_date"  # the only payment of that amount within the date window
    GATEWAY_LUMP = "gateway_lump"  # one credit for a gateway's day, net of its fees
    SPLIT_CREDITS = "split_credits"  # several credits that together pay one payment
    REFUND_DEBIT = "refund_debit"  # a debit that pays out an issued refund
    MANUAL = "manual"  # matched or split by a finance officer
    WRITE_OFF = "write_off"  # a line moved to suspense by a finance officer


class ExceptionKind(StrEnum):
    UNMATCHED_BANK_LINE = "unmatched_bank_line"
    NOT_SETTLED = "not_settled"  # captured, and its expected settlement day has passed
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_SETTLEMENT = "duplicate_settlement"
    FEE_BEYOND_TOLERANCE = "fee_beyond_tolerance"
    REFUND_NOT_SETTLED = "refund_not_settled"


class DecisionKind(StrEnum):
    MATCH = "match"
    SPLIT = "split"
    WRITE_OFF = "write_off"
    UNMATCH = "unmatch"


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SettlementLine(Record):
    """One booked entry of a bank statement, whatever format it came in."""

    line_no: Annotated[StrictInt, Field(ge=1, le=999_999_999)]
    location: Annotated[str, Field(min_length=1, max_length=200)]  # "line 17", an XML path…
    bank_account: BankAccount
    booking_date: date
    value_date: date
    amount_minor: PositiveAmountMinor
    direction: Direction
    bank_reference: BankReference
    end_to_end_id: Annotated[str, Field(max_length=64)] | None = None
    remittance_info: Annotated[str, Field(max_length=500)] | None = None
    counterparty: Annotated[str, Field(max_length=140)] | None = None


class Match(Record):
    """Bank lines and the payments or refunds they settle, with the money split the ledger posts.

    For a credit: the bank received `net_minor`; the items were worth `gross_minor`; the gateway
    kept `fee_minor`. For a debit: the bank paid out `net_minor` for refunds of `gross_minor`.
    """

    stage: MatchStage
    confidence: Confidence
    direction: Direction
    bank_account: BankAccount
    line_keys: Annotated[list[LineKey], Field(min_length=1, max_length=1000)]
    item_ids: Annotated[list[UUID], Field(max_length=ITEMS_PER_MATCH_MAX)]
    clearing: Clearing
    gross_minor: PositiveAmountMinor
    fee_minor: AmountMinor
    net_minor: PositiveAmountMinor

    @model_validator(mode="after")
    def _figures_add_up(self) -> Self:
        problem = match_problem(
            self.stage, self.direction, bool(self.item_ids),
            self.gross_minor, self.fee_minor, self.net_minor,
        )  # fmt: skip
        if problem is not None:
            raise ValueError(problem)
        return self


def match_problem(
    stage: MatchStage, direction: Direction, settles_items: bool,
    gross_minor: int, fee_minor: int, net_minor: int,
) -> str | None:  # fmt: skip
    """The rule a match's figures break, or None: the one statement of a match's row rules,
    for a `Match` and for each row of a run's match columns (reconciliation_v2)."""
    if gross_minor != net_minor + fee_minor:
        return "gross_minor must equal net_minor + fee_minor"
    if direction is Direction.DEBIT and fee_minor:
        return "a debit match carries no gateway fee"
    if (stage is MatchStage.WRITE_OFF) == settles_items:
        return "a write-off settles no items; every other match settles some"
    return None


class ReconciliationException(Record):
    """Something a finance officer must look at, with the amount and the day it dates from."""

    key: Annotated[str, Field(min_length=3, max_length=120)]  # "<kind>:<line key or item id>"
    kind: ExceptionKind
    amount_minor: AmountMinor
    dated_on: date  # booking day of the line, or the day the item was due at the bank
    line_keys: Annotated[list[LineKey], Field(max_length=1000)] = []
    item_ids: Annotated[list[UUID], Field(max_length=1000)] = []
    detail: Annotated[str, Field(min_length=3, max_length=300)]


class SettlementFileImported(EventPayload):
    """A bank statement file was read and accepted whole; its lines follow in chunks."""

    event_type: ClassVar[str] = "SettlementFileImported"
    schema_version: ClassVar[int] = 1

    file_id: UUID
    file_name: Annotated[str, Field(min_length=1, max_length=255)]
    format: StatementFormat
    mapping: Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,40}$")] | None = None
    parser_version: Annotated[str, Field(min_length=1, max_length=40)]
    content_sha256: Sha256Hex
    bank_accounts: Annotated[list[BankAccount], Field(min_length=1, max_length=100)]
    first_booking_date: date
    last_booking_date: date
    line_count: Annotated[StrictInt, Field(ge=1)]
    credit_total_minor: AmountMinor
    debit_total_minor: AmountMinor
    imported_by: OfficerId
    imported_at: UtcInstant


class SettlementLinesRecorded(EventPayload):
    event_type: ClassVar[str] = "SettlementLinesRecorded"
    schema_version: ClassVar[int] = 1

    file_id: UUID
    chunk: Annotated[StrictInt, Field(ge=1)]
    lines: Annotated[list[SettlementLine], Field(min_length=1, max_length=LINES_PER_EVENT_MAX)]


class SettlementsMatched(EventPayload):
    """Matches made by a finance decision (decision_id), or by a matching run (run_id) recorded
    before runs wrote their matches as columns (`SettlementsMatchedV2`, reconciliation_v2)."""

    event_type: ClassVar[str] = "SettlementsMatched"
    schema_version: ClassVar[int] = 1

    bank_account: BankAccount
    business_date: date
    run_id: UUID | None = None
    decision_id: UUID | None = None
    matches: Annotated[list[Match], Field(min_length=1, max_length=MATCHES_PER_EVENT_MAX)]

    def match_rows(self) -> list[Match]:
        """The matches as rows, as `SettlementsMatchedV2.match_rows` gives its columns."""
        return self.matches


class MatchUndone(EventPayload):
    """A match or write-off taken back: its lines and items are open again; the ledger reverses."""

    event_type: ClassVar[str] = "MatchUndone"
    schema_version: ClassVar[int] = 1

    bank_account: BankAccount
    business_date: date
    decision_id: UUID
    match: Match


class ExceptionsRaised(EventPayload):
    """The open exceptions a run found for the day; chunk 1 replaces the previous run's list."""

    event_type: ClassVar[str] = "ExceptionsRaised"
    schema_version: ClassVar[int] = 1

    bank_account: BankAccount
    business_date: date
    run_id: UUID
    chunk: Annotated[StrictInt, Field(ge=1)]
    exceptions: Annotated[list[ReconciliationException], Field(max_length=EXCEPTIONS_PER_EVENT_MAX)]


class MatchRunCompleted(EventPayload):
    """A matching run's fingerprint: re-running it on the same inputs and rules gives these."""

    event_type: ClassVar[str] = "MatchRunCompleted"
    schema_version: ClassVar[int] = 1

    run_id: UUID
    bank_account: BankAccount
    business_date: date
    rules_version: Annotated[str, Field(min_length=1, max_length=80)]
    as_of_position: Annotated[StrictInt, Field(ge=0)]
    inputs_sha256: Sha256Hex
    results_sha256: Sha256Hex
    matched_line_count: Annotated[StrictInt, Field(ge=0)]
    exception_count: Annotated[StrictInt, Field(ge=0)]
    run_by: OfficerId
    completed_at: UtcInstant


class DecisionProposed(EventPayload):
    """A finance officer's manual decision; above the approval limit it waits for a checker."""

    event_type: ClassVar[str] = "DecisionProposed"
    schema_version: ClassVar[int] = 1

    decision_id: UUID
    bank_account: BankAccount
    business_date: date
    kind: DecisionKind
    amount_minor: AmountMinor
    match: Match  # what will be matched, written off or (for unmatch) undone
    reason: Reason
    proposed_by: OfficerId
    needs_approval: bool


class DecisionApproved(EventPayload):
    event_type: ClassVar[str] = "DecisionApproved"
    schema_version: ClassVar[int] = 1

    decision_id: UUID
    approved_by: OfficerId
    reason: Reason


class DecisionRejected(EventPayload):
    event_type: ClassVar[str] = "DecisionRejected"
    schema_version: ClassVar[int] = 1

    decision_id: UUID
    rejected_by: OfficerId
    reason: Reason


class DayClosed(EventPayload):
    """The day is locked: no run or decision changes it until it is reopened."""

    event_type: ClassVar[str] = "DayClosed"
    schema_version: ClassVar[int] = 1

    bank_account: BankAccount
    business_date: date
    closed_by: OfficerId
    matched_line_count: Annotated[StrictInt, Field(ge=0)]
    settled_minor: AmountMinor
    carried_forward_count: Annotated[StrictInt, Field(ge=0)]  # items still due, checked later


class DayReopened(EventPayload):
    event_type: ClassVar[str] = "DayReopened"
    schema_version: ClassVar[int] = 1

    bank_account: BankAccount
    business_date: date
    reopened_by: OfficerId
    reason: Reason


MODELS: tuple[type[EventPayload], ...] = (
    SettlementFileImported,
    SettlementLinesRecorded,
    SettlementsMatched,
    MatchUndone,
    ExceptionsRaised,
    MatchRunCompleted,
    DecisionProposed,
    DecisionApproved,
    DecisionRejected,
    DayClosed,
    DayReopened,
)
