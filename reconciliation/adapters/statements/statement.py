"""One entry point for every statement format, and what a parsed statement says about itself.

All or nothing: a file with any problem raises StatementError at its first problem and nothing
partial is returned, because a half-imported day would reconcile wrongly without saying so.
"""

from dataclasses import dataclass

from events.gc_pause import collector_paused
from reconciliation.adapters.statements.camt053 import parse_camt
from reconciliation.adapters.statements.common import (
    CONTENT_BYTES_MAX,
    StatementError,
)
from reconciliation.adapters.statements.csv_mapping import CsvMapping
from reconciliation.adapters.statements.csv_statement import parse_csv
from reconciliation.adapters.statements.mt940 import parse_mt940
from schemas.events.reconciliation_v1 import SettlementLine, StatementFormat

# Bump when the same bytes would give different lines (a new rule, a field read differently), so
# an import records which reading of the file it holds.
# 2: a camt DtTm with an offset is dated in Asia/Ho_Chi_Minh (1 took its date as written).
PARSER_VERSION = "2"
# SettlementFileImported lists the file's accounts, at most this many.
BANK_ACCOUNTS_PER_FILE_MAX = 100


@dataclass(frozen=True)
class ParsedStatement:
    """The lines of one statement file, in file order (their figures: domain.statement_lines)."""

    format: StatementFormat
    lines: tuple[SettlementLine, ...]
    mapping: str | None = None

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError("a parsed statement has at least one line")


def _check_accounts(lines: list[SettlementLine]) -> None:
    seen: set[str] = set()
    for line in lines:
        seen.add(line.bank_account)
        if len(seen) > BANK_ACCOUNTS_PER_FILE_MAX:
            raise StatementError(
                line.location, f"more than {BANK_ACCOUNTS_PER_FILE_MAX} bank accounts in one file"
            )


def parse_statement(
    content: bytes, format: StatementFormat, *, mapping: CsvMapping | None = None
) -> ParsedStatement:
    """Every booked line of a statement file, or StatementError at the file's first problem.

    `mapping` is the bank's CSV layout and is needed for (and only for) CSV. A missing or
    unexpected mapping is the caller's mistake and raises a plain ValueError.
    """
    format = StatementFormat(format)
    if (format is StatementFormat.CSV) != (mapping is not None):
        raise ValueError("a CSV statement needs a mapping, and only a CSV statement takes one")
    if len(content) > CONTENT_BYTES_MAX:
        raise StatementError("file", f"{len(content)} bytes, more than {CONTENT_BYTES_MAX}")
    with collector_paused():
        if mapping is not None:
            lines = parse_csv(content, mapping)
        elif format is StatementFormat.CAMT053:
            lines = parse_camt(content)
        else:
            lines = parse_mt940(content)
    if not lines:
        raise StatementError("file", "no booked entries")
    _check_accounts(lines)
    return ParsedStatement(format, tuple(lines), mapping.name if mapping is not None else None)
