"""The files the demo and the tests write (reconciliation/adapters/statement_writers.py) read back
through the real parsers to the same settlement lines: exactly for camt.053 and CSV; for MT940,
whose :86: field is free text, the amounts, dates, directions, references and end-to-end ids."""

import uuid
from datetime import UTC, date, datetime

import pytest

from reconciliation.adapters.statement_writers import camt053, generic_csv, mt940
from reconciliation.adapters.statements import parse_statement
from reconciliation.adapters.statements.csv_mapping import load_csv_mappings
from reconciliation.simulation import Quirks, SimulatedBank, numbered
from schemas.events.reconciliation_v1 import SettlementLine, StatementFormat
from tests.unit.reconciliation.recon_factories import ACCOUNT, item

DAY = date(2026, 11, 25)
EXACT = {"line_no", "bank_account", "booking_date", "value_date", "amount_minor", "direction",
         "bank_reference", "end_to_end_id", "remittance_info", "counterparty"}  # fmt: skip
MT940_FIELDS = EXACT - {"remittance_info", "counterparty"}


def bank_lines() -> list[SettlementLine]:
    at = datetime(2026, 11, 24, 3, tzinfo=UTC)
    items = [item(50_000 * (n + 1), clearing=("gateway", "VNPAY"), at=at) for n in range(5)]
    items += [item(30_000 * (n + 1), at=at, item_id=uuid.uuid4()) for n in range(8)]
    day = SimulatedBank(ACCOUNT, seed=1).day(DAY, date(2026, 11, 26), items, Quirks())
    return numbered(day.lines)


@pytest.mark.parametrize(
    ("statement_format", "fields"),
    [(StatementFormat.CSV, EXACT), (StatementFormat.CAMT053, EXACT),
     (StatementFormat.MT940, MT940_FIELDS)],
)  # fmt: skip
def test_written_files_read_back(statement_format: StatementFormat, fields: set[str]) -> None:
    lines = bank_lines()
    content, mapping = {
        StatementFormat.CSV: (generic_csv(lines), load_csv_mappings()["generic"]),
        StatementFormat.CAMT053: (camt053(lines, "STMT1", DAY), None),
        StatementFormat.MT940: (mt940(lines, "STMT1", ACCOUNT), None),
    }[statement_format]
    parsed = parse_statement(content, statement_format, mapping=mapping)
    assert [line.model_dump(include=fields) for line in parsed.lines] == [
        line.model_dump(include=fields) for line in lines
    ]


def test_two_seeded_banks_never_book_the_same_reference_on_a_day() -> None:
    """Two demos on one business day import two statements; had their banks numbered references
    alike, every line of the second would read as an entry booked twice (a duplicate)."""
    at = datetime(2026, 11, 24, 3, tzinfo=UTC)
    items = [item(100_000 + n * 1_000, at=at, item_id=uuid.uuid4()) for n in range(5)]

    def references(seed: int) -> list[str]:
        lines = SimulatedBank(ACCOUNT, seed=seed).day(DAY, date(2026, 11, 26), items).lines
        return [line.bank_reference for line in lines]

    assert references(1) == references(1) and len(references(1)) > 3
    assert not set(references(1)) & set(references(2))
    assert all(len(reference) == 16 for reference in references(9_999))
