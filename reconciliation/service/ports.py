"""What the reconciliation use cases need from the outside world, as Protocols."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from reconciliation.domain.items import BankLine, ItemFacts
from schemas.api.reconciliation import RunView, StageTotals
from schemas.events.reconciliation_v1 import Match, ReconciliationException


@dataclass(frozen=True)
class ImportedFile:
    file_id: UUID
    line_count: int
    position: int


@dataclass(frozen=True)
class LineState:
    line: BankLine
    settled: bool


@dataclass(frozen=True)
class ItemState:
    facts: ItemFacts
    settled: bool


@dataclass(frozen=True)
class LiveMatch:
    business_date: date  # the day whose stream recorded it
    match: Match


@dataclass(frozen=True)
class DayCounts:
    line_count: int
    settled_count: int
    settled_minor: int


class SettlementLock(Protocol):
    """One lock for every use case that settles lines and items (a match run, a decision
    applied, an approval), across processes. Each checks that what it settles is open and
    appends inside it, so two days can never settle the same payment: the day streams'
    optimistic concurrency guards one day only. Raises SettlementBusyError when another holder
    keeps it longer than the wait limit."""

    def held(self) -> AbstractAsyncContextManager[None]: ...


class ReadModel(Protocol):
    """The reconciliation read model; `as_of` is a global position (see adapters/projection)."""

    async def catch_up(self) -> int:
        """Apply every recorded event; return the position the read model now stands at."""
        ...

    async def file_by_hash(self, content_sha256: str) -> ImportedFile | None: ...

    async def open_lines(self, bank_account: str, day: date, as_of: int) -> list[BankLine]: ...

    async def open_items(self, taken_before: datetime, as_of: int) -> list[ItemFacts]: ...

    async def settled_references(
        self, references: Sequence[str], as_of: int
    ) -> dict[str, UUID]: ...

    async def matched_bank_references(
        self, bank_account: str, day: date, as_of: int
    ) -> frozenset[str]:
        """The bank references of the day's open lines that a live match holds on another
        line (a bank entry booked, or imported, twice)."""
        ...

    async def lines(self, line_keys: Sequence[str]) -> list[LineState]: ...

    async def items(self, item_ids: Sequence[UUID]) -> list[ItemState]: ...

    async def live_match_of_line(self, line_key: str) -> LiveMatch | None: ...

    async def day_counts(self, bank_account: str, day: date) -> DayCounts: ...

    async def open_exception_kinds(self, bank_account: str, day: date) -> list[str]: ...

    async def items_taken_between(self, start: datetime, end: datetime) -> list[ItemFacts]: ...

    async def closed_days(self, days: Sequence[tuple[str, date]]) -> list[tuple[str, date]]: ...

    async def day_status(self, bank_account: str, day: date) -> tuple[str, str | None]: ...

    async def stage_totals(self, bank_account: str, day: date) -> list[StageTotals]: ...

    async def open_exceptions(
        self, bank_account: str, day: date
    ) -> list[ReconciliationException]: ...

    async def exception_queue(
        self, bank_account: str, limit: int
    ) -> list[tuple[date, ReconciliationException]]:
        """Every open exception of the account, oldest first, with the day it belongs to."""
        ...

    async def runs(self, bank_account: str, day: date) -> list[RunView]: ...

    async def recorded_run(self, run_id: UUID) -> int | None:
        """The global position of the event that recorded the run, if the run exists."""
        ...
