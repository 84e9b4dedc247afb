"""What a statement's lines add up to: the figures its import records."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from schemas.events.reconciliation_v1 import Direction, SettlementLine


@dataclass(frozen=True)
class StatementFigures:
    """The figures `SettlementFileImported` records about a file's lines."""

    line_count: int
    bank_accounts: tuple[str, ...]  # sorted
    first_booking_date: date
    last_booking_date: date
    credit_total_minor: int
    debit_total_minor: int


def statement_figures(lines: Iterable[SettlementLine]) -> StatementFigures:
    """One pass over the lines (a file may hold a million); ValueError when there are none."""
    accounts: set[str] = set()
    days: set[date] = set()
    totals = {Direction.CREDIT: 0, Direction.DEBIT: 0}
    count = 0
    for line in lines:
        accounts.add(line.bank_account)
        days.add(line.booking_date)
        totals[line.direction] += line.amount_minor
        count += 1
    if not count:
        raise ValueError("a statement has at least one line")
    return StatementFigures(
        line_count=count,
        bank_accounts=tuple(sorted(accounts)),
        first_booking_date=min(days),
        last_booking_date=max(days),
        credit_total_minor=totals[Direction.CREDIT],
        debit_total_minor=totals[Direction.DEBIT],
    )
