"""Proves that a statement parsed in worker processes is the statement parsed here: a CSV file cut
into pieces (never inside a quoted cell, whatever the line ends, preamble or encoding) reads as
the whole file does, line numbers and locations included; the lines that come back are the ones
an import would store; a bad line anywhere is refused with the whole file's first error; and the
encoded chunks an import stores are the bytes the validated event model gives."""

import asyncio
import codecs
import csv
import io
import multiprocessing
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from events.chain import canonical_model_dump
from events.registry import default_registry
from reconciliation.adapters.statements import (
    CsvMapping,
    StatementError,
    load_csv_mappings,
    parse_statement,
)
from reconciliation.adapters.statements.csv_statement import csv_pieces, parse_csv
from reconciliation.adapters.statements.parsing_processes import parse_for_import
from reconciliation.domain.statement_lines import StatementLines
from reconciliation.service.context import Dumped, _new_event
from schemas.events.reconciliation_v1 import (
    LINES_PER_EVENT_MAX,
    SettlementLine,
    SettlementLinesRecorded,
    StatementFormat,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "statements"
GENERIC = load_csv_mappings()["generic"]
CSV, CAMT = StatementFormat.CSV, StatementFormat.CAMT053
HEADER = [
    "bank_account", "booking_date", "value_date", "amount", "direction", "bank_reference",
    "end_to_end_id", "remittance_info", "counterparty",
]  # fmt: skip


def generic_file(rows: int, *, line_end: str = "\n", preamble: int = 0) -> bytes:
    """A generic CSV export with quoted cells holding line ends, commas and doubled quotes,
    blank rows, and `preamble` lines before the header."""
    out = io.StringIO()
    out.write("".join(f"Sao kê tài khoản, trang {n}{line_end}" for n in range(preamble)))
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(HEADER)
    for n in range(rows):
        note = f'TT{n:06d} nộp phí, "hồ sơ"{line_end}dòng hai' if n % 3 == 0 else f"TT{n:06d}"
        writer.writerow(
            [
                "0071000123456",
                "2026-11-24",
                "",
                10_000 + n,
                "credit",
                f"FT{n:08d}",
                f"E2E{n}",
                note,
                "NGUYỄN VĂN AN",
            ]
        )
        if n % 7 == 0:
            out.write(line_end)  # a blank row: skipped, and not counted as a line
    return out.getvalue().encode()


def joined_pieces(content: bytes, mapping: CsvMapping, count: int) -> list[dict[str, object]]:
    """The pieces' lines, each piece parsed alone and numbered on, as an import would store."""
    lines: list[dict[str, object]] = []
    for piece, lines_skipped in csv_pieces(content, mapping, count):
        for line in parse_csv(piece, mapping, lines_skipped):
            lines.append({**line.model_dump(mode="json"), "line_no": len(lines) + 1})
    return lines


def dumps(lines: tuple[SettlementLine, ...] | list[SettlementLine]) -> list[dict[str, object]]:
    return [line.model_dump(mode="json") for line in lines]


def stored_lines(lines: StatementLines) -> list[dict[str, object]]:
    return [line for chunk in lines.encoded_chunks for line in orjson.loads(chunk)]


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("preamble", [0, 2])
@pytest.mark.parametrize("count", [2, 3, 7])
def test_pieces_read_as_the_whole_file(line_end: str, preamble: int, count: int) -> None:
    mapping = GENERIC.model_copy(update={"header_line": preamble + 1})
    content = generic_file(200, line_end=line_end, preamble=preamble)
    pieces = csv_pieces(content, mapping, count)
    assert len(pieces) == count
    whole = dumps(parse_csv(content, mapping))
    assert joined_pieces(content, mapping, count) == whole
    assert whole[-1]["location"] != "line 1"  # locations count the whole file's lines


def test_no_piece_starts_inside_a_quoted_cell() -> None:
    content = generic_file(60)
    for piece, _ in csv_pieces(content, GENERIC, 40):
        body = piece.split(b"\n", 1)[1]
        assert not body.startswith(b"d\xc3\xb2ng hai")  # the quoted cell's second line


def test_a_banks_export_with_a_byte_order_mark_is_cut_too() -> None:
    vcb = load_csv_mappings()["vcb"]
    assert vcb.encoding == "utf-8-sig"
    sample = (DATA / "vcb_20261124.csv").read_bytes()
    head, body = sample.split(b"\n", 1)
    content = head + b"\n" + body * 40  # the sample's rows, forty times over
    pieces = csv_pieces(content, vcb, 3)
    assert len(pieces) == 3 and all(piece.startswith(codecs.BOM_UTF8) for piece, _ in pieces)
    whole = dumps(parse_csv(content, vcb))
    assert joined_pieces(content, vcb, 3) == whole and len(whole) > 100


def test_a_file_whose_line_ends_are_not_single_ascii_bytes_stays_whole() -> None:
    mapping = GENERIC.model_copy(update={"encoding": "utf-16"})
    content = generic_file(50).decode().encode("utf-16")
    assert csv_pieces(content, mapping, 4) == [(content, 0)]
    assert len(parse_csv(content, mapping)) == 50


def test_a_head_that_is_not_exactly_the_header_keeps_the_file_whole() -> None:
    content = generic_file(50).replace(b"\n", b"\r", 1)  # the header ends with a bare CR
    assert csv_pieces(content, GENERIC, 4) == [(content, 0)]


async def test_workers_give_the_lines_this_process_gives() -> None:
    content = generic_file(2_500)
    here = await parse_for_import(content, CSV, mapping=GENERIC)
    for processes in (2, 3):
        there = await parse_for_import(
            content, CSV, mapping=GENERIC, processes=processes, elsewhere_bytes_min=0
        )
        assert stored_lines(there) == stored_lines(here)
        assert [line["line_no"] for line in stored_lines(there)] == list(range(1, 2_501))
        assert there.figures == here.figures and there.days == here.days
        assert all(orjson.loads(chunk) for chunk in there.encoded_chunks)
        assert max(len(orjson.loads(chunk)) for chunk in there.encoded_chunks) <= 1_000


async def test_a_camt_file_is_parsed_whole_in_a_worker() -> None:
    content = (DATA / "vcb_camt053_20261124.xml").read_bytes()
    there = await parse_for_import(content, CAMT, processes=2, elsewhere_bytes_min=0)
    assert stored_lines(there) == dumps(parse_statement(content, CAMT).lines)


def broken(content: bytes, row: int, cell: bytes) -> bytes:
    """The file with the amount of data row `row` (0-based) replaced by `cell`."""
    amount = str(10_000 + row).encode()
    reference = f"FT{row:08d}".encode()
    head, tail = content.split(b"," + amount + b",credit," + reference, 1)
    return head + b"," + cell + b",credit," + reference + tail


@pytest.mark.parametrize("rows", [[1_900], [300, 1_900]])
async def test_a_bad_line_is_refused_with_the_whole_files_first_error(rows: list[int]) -> None:
    content = generic_file(2_000)
    for row in rows:
        content = broken(content, row, b"12x")
    with pytest.raises(StatementError) as in_one:
        parse_statement(content, CSV, mapping=GENERIC)
    with pytest.raises(StatementError) as in_workers:
        await parse_for_import(content, CSV, mapping=GENERIC, processes=3, elsewhere_bytes_min=0)
    assert str(in_workers.value) == str(in_one.value)
    assert "column 'amount'" in str(in_workers.value)


async def test_an_unclosed_quote_in_a_later_piece_is_the_files_error() -> None:
    content = generic_file(2_000) + b'0071000123456,2026-11-24,,5,credit,FTX,,"never closed\n'
    with pytest.raises(StatementError) as in_one:
        parse_statement(content, CSV, mapping=GENERIC)
    with pytest.raises(StatementError) as in_workers:
        await parse_for_import(content, CSV, mapping=GENERIC, processes=2, elsewhere_bytes_min=0)
    assert str(in_workers.value) == str(in_one.value)


def test_a_stored_chunk_is_the_validated_models_bytes() -> None:
    lines = parse_statement(generic_file(1_500), CSV, mapping=GENERIC).lines
    statement = StatementLines.from_lines(lines, first_line_no=11)
    file_id = uuid.uuid4()
    renumbered = [line.model_copy(update={"line_no": line.line_no + 10}) for line in lines]
    envelope = {
        "event_id": uuid.uuid4(),
        "occurred_at": datetime(2026, 11, 24, 3, tzinfo=UTC),
        "actor": "finance:an",
    }
    for number, chunk in enumerate(statement.encoded_chunks):
        start = number * LINES_PER_EVENT_MAX
        model = SettlementLinesRecorded(
            file_id=file_id, chunk=number + 1,
            lines=renumbered[start : start + LINES_PER_EVENT_MAX],
        )  # fmt: skip
        payload = {"file_id": str(file_id), "chunk": number + 1, "lines": orjson.Fragment(chunk)}
        event = _new_event(
            Dumped(SettlementLinesRecorded, payload, validated=True),
            correlation_id=uuid.uuid4(),
            **envelope,
        )
        default_registry().check_new(event)  # type-checked, not validated again
        encoded = canonical_model_dump(event.payload)
        assert encoded == canonical_model_dump(model.to_payload())
        assert default_registry().parse_payload(model.event_type, 1, orjson.loads(encoded)) == model


async def test_an_import_given_up_mid_parse_leaves_no_worker_behind() -> None:
    content = generic_file(30_000)
    parsing = asyncio.create_task(
        parse_for_import(content, CSV, mapping=GENERIC, processes=2, elsewhere_bytes_min=0)
    )
    await asyncio.sleep(0)  # the task runs to its first wait: the workers are started by then
    assert len(multiprocessing.active_children()) == 2
    parsing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await parsing
    assert multiprocessing.active_children() == []
