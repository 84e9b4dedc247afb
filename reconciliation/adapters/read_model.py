"""The reconciliation read model in PostgreSQL: the queries behind reconciliation/service/ports."""

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import asyncpg

from events.projection import CatchUpProjector
from reconciliation.adapters.projection import PROJECTION_NAME, SQL
from reconciliation.domain.items import BankLine, ItemFacts, ItemKind
from reconciliation.service.ports import (
    DayCounts,
    ImportedFile,
    ItemState,
    LineState,
    LiveMatch,
)
from schemas.api.reconciliation import RunView, StageTotals
from schemas.events.reconciliation_v1 import Direction, Match, ReconciliationException

CHECKPOINT = "SELECT last_position FROM projection_checkpoints WHERE projection_name = $1"


# Enum members by stored value: a dict probe, where calling the enum costs a lookup chain (a run
# converts a million rows of each).
_DIRECTIONS = {direction.value: direction for direction in Direction}
_KINDS = {kind.value: kind for kind in ItemKind}


def _line(row: asyncpg.Record) -> BankLine:
    """A row of open_lines_of_day, whose columns are in BankLine's field order."""
    return BankLine(
        row[0], row[1], row[2], row[3], _DIRECTIONS[row[4]], row[5], row[6], row[7], row[8]
    )


def _item(row: asyncpg.Record) -> ItemFacts:
    """A row of open_items_until / items_taken_between, in ItemFacts' field order."""
    return ItemFacts(row[0], _KINDS[row[1]], row[2], row[3], row[4], row[5], tuple(row[6]))


def _exception(row: asyncpg.Record) -> ReconciliationException:
    return ReconciliationException(
        key=row["key"], kind=row["kind"], amount_minor=row["amount_minor"],
        dated_on=row["dated_on"], line_keys=row["line_keys"], item_ids=row["item_ids"],
        detail=row["detail"],
    )  # fmt: skip


class PostgresReadModel:
    def __init__(self, pool: asyncpg.Pool, projector: CatchUpProjector) -> None:
        self._pool = pool
        self._projector = projector

    async def catch_up(self) -> int:
        await self._projector.catch_up()
        position = await self._pool.fetchval(CHECKPOINT, PROJECTION_NAME)
        return int(position or 0)

    async def file_by_hash(self, content_sha256: str) -> ImportedFile | None:
        row = await self._pool.fetchrow(SQL["file_by_hash"], content_sha256)
        return None if row is None else ImportedFile(**dict(row))

    async def open_lines(self, bank_account: str, day: date, as_of: int) -> list[BankLine]:
        rows = await self._pool.fetch(SQL["open_lines_of_day"], bank_account, day, as_of)
        return [_line(row) for row in rows]

    async def open_items(self, taken_before: datetime, as_of: int) -> list[ItemFacts]:
        rows = await self._pool.fetch(SQL["open_items_until"], taken_before, as_of)
        return [_item(row) for row in rows]

    async def settled_references(self, references: Sequence[str], as_of: int) -> dict[str, UUID]:
        if not references:
            return {}
        rows = await self._pool.fetch(SQL["settled_references"], list(references), as_of)
        return {row["reference"]: row["item_id"] for row in rows}

    async def matched_bank_references(
        self, bank_account: str, day: date, as_of: int
    ) -> frozenset[str]:
        rows = await self._pool.fetch(SQL["matched_bank_references"], bank_account, day, as_of)
        return frozenset(row["bank_reference"] for row in rows)

    async def lines(self, line_keys: Sequence[str]) -> list[LineState]:
        rows = await self._pool.fetch(SQL["lines_by_key"], list(line_keys))
        return [LineState(_line(row), row["settled"]) for row in rows]

    async def items(self, item_ids: Sequence[UUID]) -> list[ItemState]:
        rows = await self._pool.fetch(SQL["items_by_id"], list(item_ids))
        return [ItemState(_item(row), row["settled"]) for row in rows]

    async def live_match_of_line(self, line_key: str) -> LiveMatch | None:
        row = await self._pool.fetchrow(SQL["live_match_of_line"], line_key)
        if row is None:
            return None
        fields = dict(row)
        fields.pop("match_key")
        business_date = fields.pop("business_date")
        return LiveMatch(business_date, Match.model_validate(fields))

    async def day_counts(self, bank_account: str, day: date) -> DayCounts:
        row = await self._pool.fetchrow(SQL["day_line_counts"], bank_account, day)
        return DayCounts(row["line_count"], row["settled_count"], row["settled_minor"])

    async def open_exception_kinds(self, bank_account: str, day: date) -> list[str]:
        return [e.kind.value for e in await self.open_exceptions(bank_account, day)]

    async def items_taken_between(self, start: datetime, end: datetime) -> list[ItemFacts]:
        rows = await self._pool.fetch(SQL["items_taken_between"], start, end)
        return [_item(row) for row in rows]

    async def closed_days(self, days: Sequence[tuple[str, date]]) -> list[tuple[str, date]]:
        accounts, dates = [account for account, _ in days], [day for _, day in days]
        rows = await self._pool.fetch(SQL["closed_days"], accounts, dates)
        return [(row["bank_account"], row["business_date"]) for row in rows]

    async def day_status(self, bank_account: str, day: date) -> tuple[str, str | None]:
        row = await self._pool.fetchrow(SQL["day_status"], bank_account, day)
        return ("not_started", None) if row is None else (row["status"], row["closed_by"])

    async def stage_totals(self, bank_account: str, day: date) -> list[StageTotals]:
        rows = await self._pool.fetch(SQL["matches_by_stage"], bank_account, day)
        return [StageTotals(**dict(row)) for row in rows]

    async def open_exceptions(self, bank_account: str, day: date) -> list[ReconciliationException]:
        rows = await self._pool.fetch(SQL["open_exceptions"], bank_account, day)
        return [_exception(row) for row in rows]

    async def exception_queue(
        self, bank_account: str, limit: int
    ) -> list[tuple[date, ReconciliationException]]:
        rows = await self._pool.fetch(SQL["exception_queue"], bank_account, limit)
        return [(row["business_date"], _exception(row)) for row in rows]

    async def runs(self, bank_account: str, day: date) -> list[RunView]:
        rows = await self._pool.fetch(SQL["runs_of_day"], bank_account, day)
        return [RunView(**dict(row)) for row in rows]

    async def recorded_run(self, run_id: UUID) -> int | None:
        position = await self._pool.fetchval(SQL["run_position"], run_id)
        return None if position is None else int(position)
