"""Reconciliation-context events, schema version 2: a matching run's matches as columns.

A run records up to a million matches. As rows (`SettlementsMatched` v1) each match is an object
that is validated, encoded and read back on its own; here an event carries its matches as one
list per `Match` field, row i of every list making match i. The same per-value checks apply (the
patterns, UUIDs, enums and ranges of `Match`), and the row rules (`match_problem`) are checked in
one loop: validating 1,000 matches took 1.1 ms against 6.5 as rows, and encoding them 1.2 against
2.5 (docs/reconciliation-bulk-path.md). `rows()` reads them back as `Match` records, so the ledger
posts the same entries from either version.

v1 stays current: manual decisions record their one match as a row, where reading matters more
than speed, and every event recorded before v2 stays as it was.
"""

from collections.abc import Iterator
from datetime import date
from typing import Annotated, ClassVar, Self
from uuid import UUID

from pydantic import Field, model_validator

from schemas.envelope import EventPayload, unchecked
from schemas.events.reconciliation_v1 import (
    ITEMS_PER_MATCH_MAX,
    MATCHES_PER_EVENT_MAX,
    BankAccount,
    Clearing,
    Confidence,
    Direction,
    LineKey,
    Match,
    MatchStage,
    Record,
    match_problem,
)
from schemas.money import AmountMinor, PositiveAmountMinor

LinesOfMatch = Annotated[list[LineKey], Field(min_length=1, max_length=1000)]
ItemsOfMatch = Annotated[list[UUID], Field(max_length=ITEMS_PER_MATCH_MAX)]


class MatchColumns(Record):
    """Matches as one list per field of `Match`, all of one length (1 to 1,000)."""

    stage: list[MatchStage]
    confidence: list[Confidence]
    direction: list[Direction]
    bank_account: list[BankAccount]
    line_keys: list[LinesOfMatch]
    item_ids: list[ItemsOfMatch]
    clearing: list[Clearing]
    gross_minor: list[PositiveAmountMinor]
    fee_minor: list[AmountMinor]
    net_minor: list[PositiveAmountMinor]

    @model_validator(mode="after")
    def _rows_hold(self) -> Self:
        count = len(self.stage)
        if not 1 <= count <= MATCHES_PER_EVENT_MAX:
            raise ValueError(f"1 to {MATCHES_PER_EVENT_MAX} matches, got {count}")
        for name in type(self).model_fields:
            if len(getattr(self, name)) != count:
                raise ValueError(f"{name} holds {len(getattr(self, name))} values, stage {count}")
        rows = zip(
            self.stage, self.direction, self.item_ids,
            self.gross_minor, self.fee_minor, self.net_minor, strict=True,
        )  # fmt: skip
        for index, (stage, direction, items, gross, fee, net) in enumerate(rows):
            problem = match_problem(stage, direction, bool(items), gross, fee, net)
            if problem is not None:
                raise ValueError(f"match {index}: {problem}")
        return self

    def __len__(self) -> int:
        return len(self.stage)

    def rows(self) -> Iterator[Match]:
        """Each match as a `Match`, not validated again: every value and row rule was checked
        when these columns were."""
        names = tuple(Match.model_fields)  # the columns' names, one per field of Match
        for values in zip(*(getattr(self, name) for name in names), strict=True):
            yield unchecked(Match, dict(zip(names, values, strict=True)))


class SettlementsMatchedV2(EventPayload):
    """Matches made by a matching run, as columns; `SettlementsMatched` v1 in every other way."""

    event_type: ClassVar[str] = "SettlementsMatched"
    schema_version: ClassVar[int] = 2

    bank_account: BankAccount
    business_date: date
    run_id: UUID | None = None
    decision_id: UUID | None = None
    matches: MatchColumns

    def match_rows(self) -> list[Match]:
        return list(self.matches.rows())


MODELS: tuple[type[EventPayload], ...] = (SettlementsMatchedV2,)
