"""A parsed statement's lines as its import records them, and what they add up to."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import TypeAdapter

from events.chain import canonical_model_dump
from schemas.events.reconciliation_v1 import LINES_PER_EVENT_MAX, Direction, SettlementLine

_LINES = TypeAdapter(list[SettlementLine])


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


def statement_days(lines: Iterable[SettlementLine]) -> frozenset[tuple[str, date]]:
    """The (account, booking day) pairs the lines fall on."""
    return frozenset((line.bank_account, line.booking_date) for line in lines)


def merged_figures(parts: Sequence[StatementFigures]) -> StatementFigures:
    """The figures of a file from those of its consecutive parts (at least one)."""
    return StatementFigures(
        line_count=sum(part.line_count for part in parts),
        bank_accounts=tuple(sorted({account for part in parts for account in part.bank_accounts})),
        first_booking_date=min(part.first_booking_date for part in parts),
        last_booking_date=max(part.last_booking_date for part in parts),
        credit_total_minor=sum(part.credit_total_minor for part in parts),
        debit_total_minor=sum(part.debit_total_minor for part in parts),
    )


@dataclass(frozen=True)
class StatementLines:
    """A statement's lines as its import stores them, in chunks of at most LINES_PER_EVENT_MAX:
    each chunk the canonical JSON (events.chain) of its lines, dumped from `SettlementLine`s
    that validated and numbered on from 1 across the chunks; with the lines' figures and the
    (account, booking day) pairs they fall on. Bytes and a few values: a parsing process sends
    them cheaply, and the store writes each chunk into its event as it is."""

    encoded_chunks: list[bytes]
    figures: StatementFigures
    days: frozenset[tuple[str, date]]

    @classmethod
    def from_lines(
        cls, lines: Sequence[SettlementLine], first_line_no: int = 1
    ) -> "StatementLines":
        """From validated lines numbered 1, 2, … (at least one), renumbered to start at
        `first_line_no`."""
        return cls(
            encoded_chunks=list(encoded_chunks(lines, first_line_no)),
            figures=statement_figures(lines),
            days=statement_days(lines),
        )


def encoded_chunks(lines: Sequence[SettlementLine], first_line_no: int = 1) -> Iterator[bytes]:
    """The chunks of `StatementLines.encoded_chunks`, made one at a time: a million lines' dicts
    are never held at once (each new page of memory costs a page fault, which is dear on this
    project's virtual machines)."""
    for start in range(0, len(lines), LINES_PER_EVENT_MAX):
        dumped = _LINES.dump_python(list(lines[start : start + LINES_PER_EVENT_MAX]), mode="json")
        if first_line_no != 1:
            for line in dumped:
                line["line_no"] += first_line_no - 1
        yield canonical_model_dump(dumped)
