"""Requests and responses of the reconciliation HTTP API (finance and auditor roles)."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from schemas.api.payments import ApiModel
from schemas.events.reconciliation_v1 import DecisionKind, LineKey

ReasonText = Annotated[str, Field(min_length=3, max_length=500)]


class ImportResponse(ApiModel):
    file_id: UUID
    line_count: int
    already_imported: bool


class RunResponse(ApiModel):
    run_id: UUID
    rules_version: str
    matched_line_count: int
    match_count: int
    exception_count: int
    inputs_sha256: str
    results_sha256: str


class DecisionRequestBody(ApiModel):
    kind: DecisionKind
    line_keys: Annotated[list[LineKey], Field(min_length=1, max_length=1000)]
    item_ids: Annotated[list[UUID], Field(default_factory=list, max_length=1000)]
    reason: ReasonText


class ReasonBody(ApiModel):
    reason: ReasonText


class DecisionResponse(ApiModel):
    decision_id: UUID
    status: Literal["applied", "pending", "rejected"]
    amount_minor: int


class StageTotals(ApiModel):
    stage: str
    direction: str
    match_count: int
    net_minor: int
    gross_minor: int
    fee_minor: int


class ExceptionView(ApiModel):
    key: str
    kind: str
    amount_minor: int
    dated_on: date
    age_banking_days: int
    line_keys: list[str]
    item_ids: list[UUID]
    detail: str


class QueuedException(ExceptionView):
    """An open exception on the account's queue, with the reconciliation day it belongs to."""

    business_date: date


class ExceptionTotals(ApiModel):
    kind: str
    count: int
    amount_minor: int


class AgeingBucket(ApiModel):
    label: str
    count: int
    amount_minor: int


class RunView(ApiModel):
    run_id: UUID
    rules_version: str
    as_of_position: int
    inputs_sha256: str
    results_sha256: str
    matched_line_count: int
    exception_count: int
    run_by: str
    completed_at: datetime


class DayReport(ApiModel):
    """One bank account's business day, as finance closes it and an auditor reads it."""

    bank_account: str
    business_date: date
    status: Literal["not_started", "open", "closed"]
    closed_by: str | None
    expected_gross_minor: int  # items due at this account on this day
    expected_fee_minor: int  # what the gateways are expected to keep
    expected_net_minor: int
    line_count: int
    matched_line_count: int
    settled_minor: int  # credits of the day that a match or write-off holds
    stages: list[StageTotals]
    exceptions_by_kind: list[ExceptionTotals]
    ageing: list[AgeingBucket]
    exceptions: list[ExceptionView]
    runs: list[RunView]
