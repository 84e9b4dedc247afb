"""The journal in PostgreSQL: posting batches effectively once, and reading balances back."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from events.sqlfiles import load_statements
from ledger.domain.accounts import AccountKind, kind_of
from ledger.domain.posting import JournalEntry

SQL = load_statements("ledger.adapters.sql", "ledger.sql")
STATEMENT_LINES_MAX = 10_000


@dataclass(frozen=True)
class AccountTotals:
    account_code: str
    kind: AccountKind
    debit_minor: int
    credit_minor: int

    @property
    def balance_minor(self) -> int:
        """Debits minus credits (negative for accounts with a normal credit balance)."""
        return self.debit_minor - self.credit_minor


@dataclass(frozen=True)
class StatementLine:
    event_id: UUID
    position: int
    event_type: str
    occurred_at: datetime
    business_date: date
    description: str
    amount_minor: int
    balance_after_minor: int
    payment_id: UUID | None
    procedure_code: str | None


@dataclass(frozen=True)
class Statement:
    account_code: str
    opening_balance_minor: int
    lines: list[StatementLine]  # the first STATEMENT_LINES_MAX movements
    closing_balance_minor: int  # of every movement in the period, listed or not
    truncated: bool  # more movements than lines: ask for a shorter period to list them all


def _columns(entries: Sequence[JournalEntry]) -> list[list[object]]:
    entry_columns: list[list[object]] = [[], [], [], [], [], []]
    posting_columns: list[list[object]] = [[], [], [], [], [], [], [], []]
    for entry in entries:
        for column, value in zip(
            entry_columns,
            (entry.event_id, entry.position, entry.event_type, entry.business_date,
             entry.occurred_at, entry.description),
            strict=True,
        ):  # fmt: skip
            column.append(value)
        for line, posting in enumerate(entry.postings, start=1):
            for column, value in zip(
                posting_columns,
                (entry.event_id, line, posting.account_code, posting.amount_minor,
                 posting.agency_code, posting.unit_code, posting.procedure_code,
                 posting.payment_id),
                strict=True,
            ):  # fmt: skip
                column.append(value)
    return entry_columns + posting_columns


class Journal:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @staticmethod
    async def post_on(connection: asyncpg.Connection, entries: Sequence[JournalEntry]) -> None:
        """Post entries inside the caller's transaction (the stream consumer's). Entries already
        posted (the same event id) are skipped by the journal itself, a second line of defence
        behind the consumer's position check."""
        if entries:
            await connection.execute(SQL["post_entries"], *_columns(entries))

    async def trial_balance(self, as_of: date | None = None) -> list[AccountTotals]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SQL["trial_balance"], as_of)
        return [
            AccountTotals(
                row["account_code"],
                kind_of(row["account_code"]),
                row["debit_minor"],
                row["credit_minor"],
            )
            for row in rows
        ]

    async def daily_totals(
        self, account_code: str, first_day: date, last_day: date
    ) -> list[tuple[date, int, int]]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SQL["account_days"], account_code, first_day, last_day)
        return [(row["business_date"], row["debit_minor"], row["credit_minor"]) for row in rows]

    async def statement(self, account_code: str, start: datetime, end: datetime) -> Statement:
        """The account's movements in [start, end), with the running balance."""
        async with (
            self._pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):  # one snapshot: the balances and the lines agree
            opening = await connection.fetchval(SQL["balance_before"], account_code, start)
            closing = await connection.fetchval(SQL["balance_before"], account_code, end)
            rows = await connection.fetch(
                SQL["statement"], account_code, start, end, STATEMENT_LINES_MAX + 1
            )
        balance = int(opening)
        lines = []
        for row in rows[:STATEMENT_LINES_MAX]:
            balance += row["amount_minor"]
            lines.append(
                StatementLine(
                    event_id=row["event_id"],
                    position=row["position"],
                    event_type=row["event_type"],
                    occurred_at=row["occurred_at"],
                    business_date=row["business_date"],
                    description=row["description"],
                    amount_minor=row["amount_minor"],
                    balance_after_minor=balance,
                    payment_id=row["payment_id"],
                    procedure_code=row["procedure_code"],
                )
            )
        truncated = len(rows) > STATEMENT_LINES_MAX
        return Statement(account_code, int(opening), lines, int(closing), truncated)

    async def all_postings(self) -> list[tuple[UUID, int, date, int, str, int]]:
        """Every posting in position order (tests and audits compare ledgers with this)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SQL["all_postings"])
        return [tuple(row) for row in rows]
