"""Proves the bank statement parsers (camt.053/054, MT940, mapped CSV): realistic Vietnamese files
become exactly the expected SettlementLines, the same day in three formats gives the same money,
third-party samples parse structurally and are refused for their currency, every kind of broken
or hostile file is refused whole at the location of its first problem, the shipped CSV mappings
load and bad ones are refused, and any lines written in the generic CSV layout read back intact."""

import csv
import io
import json
import pickle
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.adapters.statements import (
    PARSER_VERSION,
    CsvMapping,
    ParsedStatement,
    StatementError,
    load_csv_mappings,
    parse_statement,
)
from reconciliation.domain.statement_lines import statement_figures
from schemas.events.reconciliation_v1 import Direction, SettlementLine, StatementFormat
from schemas.money import AMOUNT_MINOR_MAX

DATA = Path(__file__).resolve().parents[2] / "data" / "statements"
THIRD_PARTY = DATA / "third_party"
BROKEN = DATA / "broken"
MAPPINGS = load_csv_mappings()
CAMT, MT940, CSV = StatementFormat.CAMT053, StatementFormat.MT940, StatementFormat.CSV
CREDIT, DEBIT = Direction.CREDIT, Direction.DEBIT
DAY, NEXT_DAY = date(2026, 11, 24), date(2026, 11, 25)
CAMT_ENTRY = "/Document/BkToCstmrStmt/Stmt[1]/Ntry[{}]"
ROW = "0071000123456,2026-11-24,,"  # a generic row up to its amount
GENERIC_HEADER = (
    "bank_account,booking_date,value_date,amount,direction,bank_reference,end_to_end_id,"
    "remittance_info,counterparty\n"
)


def parse(path: Path, mapping: str | None = None) -> ParsedStatement:
    formats = {".xml": CAMT, ".sta": MT940, ".csv": CSV}
    chosen = MAPPINGS[mapping] if mapping else None
    return parse_statement(path.read_bytes(), formats[path.suffix], mapping=chosen)


def refusal(content: bytes, format: StatementFormat, mapping: str | None = None) -> str:
    chosen = MAPPINGS[mapping] if mapping else None
    with pytest.raises(StatementError) as caught:
        parse_statement(content, format, mapping=chosen)
    return str(caught.value)


def generic(*rows: str) -> bytes:
    return (GENERIC_HEADER + "".join(f"{row}\n" for row in rows)).encode()


def money(lines: tuple[SettlementLine, ...]) -> list[tuple[object, ...]]:
    return [
        (x.amount_minor, x.direction, x.bank_reference, x.booking_date, x.value_date) for x in lines
    ]


# --- the good files -------------------------------------------------------------------------


def test_camt053_gives_each_booked_entry_and_skips_pending_ones() -> None:
    statement = parse(DATA / "vcb_camt053_20261124.xml")
    common = {"bank_account": "0071000123456", "booking_date": DAY}
    assert statement.lines == (
        SettlementLine(
            line_no=1, location=CAMT_ENTRY.format(1), **common, value_date=DAY,
            amount_minor=150_000, direction=CREDIT, bank_reference="FT26328100001",
            end_to_end_id="HS000123-TT", counterparty="NGUYỄN VĂN AN",
            remittance_info="Nộp phí hồ sơ TT000123 cấp giấy phép xây dựng",
        ),
        SettlementLine(
            line_no=2, location=CAMT_ENTRY.format(2), **common, value_date=DAY,
            amount_minor=12_450_000, direction=CREDIT, bank_reference="VNP2611240001",
            remittance_info="VNPAY TT NGAY 24/11/2026",
            counterparty="CÔNG TY CP GIẢI PHÁP THANH TOÁN VIỆT NAM (VNPAY)",
        ),
        SettlementLine(
            line_no=3, location=CAMT_ENTRY.format(4), **common, value_date=DAY,
            amount_minor=50_000, direction=DEBIT, bank_reference="FT26328100077",
            end_to_end_id="HT000099", remittance_info="Hoàn phí hồ sơ TT000099",
            counterparty="TRẦN THỊ BÌNH",
        ),
        SettlementLine(
            line_no=4, location=CAMT_ENTRY.format(5), **common, value_date=NEXT_DAY,
            amount_minor=11_000, direction=DEBIT, bank_reference="FT26328100090",
            remittance_info="Phí dịch vụ SMS Banking tháng 11",
        ),
    )  # fmt: skip
    assert statement.format is CAMT and statement.mapping is None
    figures = statement_figures(statement.lines)
    assert figures.bank_accounts == ("0071000123456",) and figures.line_count == 4
    assert (figures.first_booking_date, figures.last_booking_date) == (DAY, DAY)
    assert (figures.credit_total_minor, figures.debit_total_minor) == (12_600_000, 61_000)


def test_statement_figures_span_accounts_days_and_both_directions() -> None:
    def line(n: int, account: str, day: date, amount: int, direction: Direction) -> SettlementLine:
        return SettlementLine(
            line_no=n, location=f"line {n}", bank_account=account, booking_date=day,
            value_date=day, amount_minor=amount, direction=direction, bank_reference=f"FT{n}",
        )  # fmt: skip

    figures = statement_figures(
        [
            line(1, "0071000123456", NEXT_DAY, 150_000, CREDIT),
            line(2, "0011001234567", DAY, 40_000, DEBIT),
            line(3, "0071000123456", DAY, 2_000, CREDIT),
        ]
    )
    assert figures.line_count == 3
    assert figures.bank_accounts == ("0011001234567", "0071000123456")
    assert (figures.first_booking_date, figures.last_booking_date) == (DAY, NEXT_DAY)
    assert (figures.credit_total_minor, figures.debit_total_minor) == (152_000, 40_000)
    with pytest.raises(ValueError, match="at least one line"):
        statement_figures([])


def test_mt940_reads_value_and_entry_dates_references_and_wrapped_details() -> None:
    lines = parse(DATA / "vcb_mt940_20261124.sta").lines
    assert [x.location for x in lines] == [f"line {n} (:61:)" for n in (5, 8, 10, 13)]
    assert [x.line_no for x in lines] == [1, 2, 3, 4]
    # A full 65-character :86: line continues mid-word; /NAME/ gives the counterparty.
    assert lines[0].remittance_info == (
        "Nop phi ho so TT000123 cap giay phep xay dung cong trinh nha o rieng le"
        " /NAME/NGUYEN VAN AN/"
    )
    assert [x.counterparty for x in lines] == ["NGUYEN VAN AN", None, "TRAN THI BINH", None]
    # EREF+ wins; else the :61: customer reference; NONREF means none.
    assert [x.end_to_end_id for x in lines] == ["HS000123-TT", "VNP20261124LUMP", "HT000099", None]
    # :61:2611251124D…: value date 25/11, booking (entry) date 24/11.
    assert (lines[3].booking_date, lines[3].value_date) == (DAY, NEXT_DAY)
    assert {x.bank_account for x in lines} == {"0071000123456"}


def test_mt940_reversal_marks_move_money_the_way_they_say() -> None:
    sample = (DATA / "vcb_mt940_20261124.sta").read_text()
    # RD undoes a debit (money back in), RC undoes a credit: the file still balances.
    reversed_marks = sample.replace("1124C150000,", "1124RD150000,").replace(
        "1124D50000,", "1124RC50000,"
    )
    lines = parse_statement(reversed_marks.encode(), MT940).lines
    assert [(x.amount_minor, x.direction) for x in lines][::2] == [
        (150_000, CREDIT),
        (50_000, DEBIT),
    ]


def test_mt940_reads_sepa_keywords_in_free_text_details() -> None:
    sample = (DATA / "vcb_mt940_20261124.sta").read_text()
    keyworded = sample.replace(
        ":86:Phi dich vu SMS Banking thang 11",
        ":86:EREF+PHI-SMS-11 SVWZ+Phi dich vu SMS Banking NAME+NGAN HANG TMCP NGOAI THUONG",
    )
    last = parse_statement(keyworded.encode(), MT940).lines[-1]
    assert (last.end_to_end_id, last.counterparty) == (
        "PHI-SMS-11", "NGAN HANG TMCP NGOAI THUONG",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("file_name", "mapping", "expected"),
    [
        ("vcb_20261124.csv", "vcb", [(150_000, CREDIT), (12_450_000, CREDIT), (50_000, DEBIT),
                                     (11_000, DEBIT)]),
        ("bidv_20261124.csv", "bidv", [(200_000, CREDIT), (3_980_000, CREDIT), (75_000, DEBIT)]),
        ("vietinbank_20261124.csv", "vietinbank", [(500_000, CREDIT), (7_320_000, CREDIT),
                                                   (22_000, DEBIT)]),
        ("generic_20261124.csv", "generic", [(150_000, CREDIT), (12_450_000, CREDIT),
                                             (50_000, DEBIT)]),
    ],
)  # fmt: skip
def test_each_bank_layout_reads_its_amounts_and_directions(
    file_name: str, mapping: str, expected: list[tuple[int, Direction]]
) -> None:
    statement = parse(DATA / file_name, mapping)
    assert [(x.amount_minor, x.direction) for x in statement.lines] == expected
    assert [x.location for x in statement.lines] == [f"line {n + 2}" for n in range(len(expected))]
    assert statement.mapping == mapping


def test_csv_lines_carry_vietnamese_text_references_and_accounts() -> None:
    bidv = parse(DATA / "bidv_20261124.csv", "bidv").lines
    assert bidv[0] == SettlementLine(
        line_no=1, location="line 2", bank_account="12010000123456", booking_date=DAY,
        value_date=DAY, amount_minor=200_000, direction=CREDIT, bank_reference="BT2611240000017",
        end_to_end_id="LP000201", counterparty="LÊ THỊ CÚC",
        remittance_info="Nộp lệ phí TT000201 đăng ký kinh doanh hộ cá thể",
    )  # fmt: skip
    vcb = parse(DATA / "vcb_20261124.csv", "vcb").lines
    assert vcb[3].counterparty is None and vcb[3].value_date == NEXT_DAY
    generic_lines = parse(DATA / "generic_20261124.csv", "generic").lines
    assert generic_lines[1].value_date == DAY  # empty value date: the booking date
    assert generic_lines[2].remittance_info == "Hoàn phí hồ sơ TT000099, chuyển trả người nộp"


def test_the_same_day_in_three_formats_gives_the_same_money() -> None:
    camt = money(parse(DATA / "vcb_camt053_20261124.xml").lines)
    assert money(parse(DATA / "vcb_mt940_20261124.sta").lines) == camt
    assert money(parse(DATA / "vcb_20261124.csv", "vcb").lines) == camt


# --- broken and hostile files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("camt_non_vnd.xml", f"{CAMT_ENTRY.format(2)}/Amt: currency USD is not VND"),
        ("camt_fractional_dong.xml",
         f"{CAMT_ENTRY.format(1)}/Amt: '1.5' is not a whole number of dong"),
        ("camt_missing_amount.xml", f"{CAMT_ENTRY.format(2)}/Amt: no amount"),
        ("camt_bad_date.xml", f"{CAMT_ENTRY.format(1)}/BookgDt: '2026-11-31' is not a date"),
        ("camt_bad_xml.xml", "line 18: not well-formed XML: expected '>', line 18, column 29"),
        ("camt_billion_laughs.xml", "line 2: a DOCTYPE is not accepted in a bank statement"),
        ("camt_xxe.xml", "line 2: a DOCTYPE is not accepted in a bank statement"),
        ("mt940_non_vnd.sta", "line 4 (:60F:): currency USD is not VND"),
        ("mt940_fractional_dong.sta", "line 7 (:61:): '150000,50' is not a whole number of dong"),
        ("mt940_missing_amount.sta",
         "line 7 (:61:): '2611241124CNTRF//FT26328100002' does not fit the layout of :61:"),
        ("mt940_bad_date.sta", "line 5 (:61:): cannot be read (month must be in 1..12)"),
        ("mt940_truncated.sta",
         "line 1 (:20:): the statement has no closing balance (:62F:): cut short?"),
        ("mt940_truncated_mid_line.sta", "line 7 (:61:): '26112' does not fit the layout of :61:"),
        ("mt940_unbalanced.sta", "line 7 (:62F:): closing balance 250100000 is not opening"
         " 250000000 + credits 150000 - debits 0 = 250150000"),
        ("vcb_bad_row.csv",
         "line 17, column 'Số tiền ghi có': '1.5' is not a whole number of dong"),
        ("vcb_missing_header.csv", "line 1: no column 'Số tham chiếu' (needed for bank_reference)"),
        ("generic_bad_date.csv",
         "line 3, column 'booking_date': '24/11/2026' is not a date like '2026-11-24'"),
        ("bidv_misplaced_thousands.csv",
         "line 3, column 'Số tiền': '1.5' has misplaced '.' separators"),
    ],
)  # fmt: skip
def test_a_broken_file_is_refused_at_its_first_problem(file_name: str, expected: str) -> None:
    path = BROKEN / file_name
    formats = {".xml": CAMT, ".sta": MT940, ".csv": CSV}
    mapping = file_name.split("_")[0] if path.suffix == ".csv" else None
    assert refusal(path.read_bytes(), formats[path.suffix], mapping) == expected


def test_a_doctype_is_refused_in_any_encoding_and_no_entity_is_ever_read() -> None:
    text = (BROKEN / "camt_xxe.xml").read_text(encoding="utf-8")
    utf16 = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert refusal(utf16, CAMT) == "/: a DOCTYPE is not accepted in a bank statement"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.001.001.09'/>",
         "/Document: namespace 'urn:iso:std:iso:20022:tech:xsd:pain.001.001.09' is not camt.053"
         " or camt.054"),
        (b"<Statement><Stmt/></Statement>", "/Statement: not an ISO 20022 Document"),
        (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.04'><GrpHdr/></Document>",
         "/Document: no BkToCstmrStmt or BkToCstmrDbtCdtNtfctn report"),
        (b"", "line 1: not well-formed XML: no element found"),
    ],
)  # fmt: skip
def test_xml_that_is_not_a_camt_statement_is_refused(content: bytes, expected: str) -> None:
    assert refusal(content, CAMT).startswith(expected)


def test_a_file_without_booked_entries_is_refused() -> None:
    pending = (DATA / "vcb_camt053_20261124.xml").read_text(encoding="utf-8")
    pending = pending.replace("<Cd>BOOK</Cd>", "<Cd>PDNG</Cd>").encode()
    assert refusal(pending, CAMT) == "file: no booked entries"
    assert refusal(generic(), CSV, "generic") == "file: no booked entries"
    assert refusal(b"just some text\n", MT940) == "line 1: no MT940 statement (:20:) found"


def test_a_booking_time_with_an_offset_is_dated_in_the_business_zone() -> None:
    hanoi = (DATA / "vcb_camt053_20261124.xml").read_text(encoding="utf-8")
    as_written = {line.bank_reference: line for line in parse_statement(hanoi.encode(), CAMT).lines}
    assert as_written["VNP2611240001"].booking_date == date(2026, 11, 24)
    times = {
        "2026-11-24T18:30:00Z": date(2026, 11, 25),  # 01:30 on the 25th in Hanoi
        "2026-11-24T16:59:59Z": date(2026, 11, 24),  # 23:59:59 on the 24th
        "2026-11-25T00:30:00+09:00": date(2026, 11, 24),  # 22:30 on the 24th in Hanoi
        "2026-11-24T23:30:00": date(2026, 11, 24),  # no offset: local time, as written
    }
    for written, expected in times.items():
        moved = hanoi.replace("2026-11-24T16:05:00+07:00", written).encode()
        lines = {line.bank_reference: line for line in parse_statement(moved, CAMT).lines}
        assert lines["VNP2611240001"].booking_date == expected, written
        assert lines["VNP2611240001"].value_date == expected, written


def test_the_first_problem_is_reported_even_when_a_later_one_stops_the_reader() -> None:
    fractional = (BROKEN / "mt940_fractional_dong.sta").read_text()
    broken_later = fractional.replace(":62F:", ":61:26112\r\n:62F:")
    assert refusal(broken_later.encode(), MT940).startswith("line 7 (:61:): '150000,50'")
    bad_entry_then_bad_xml = (BROKEN / "camt_fractional_dong.xml").read_bytes()[:-30]
    assert refusal(bad_entry_then_bad_xml, CAMT).startswith(f"{CAMT_ENTRY.format(1)}/Amt:")


# --- third-party samples (see tests/data/statements/SOURCES.md) -----------------------------


def as_dong_xml(content: bytes) -> bytes:
    """Test-only currency override: every amount in VND, its minor units read as whole dong."""
    return re.sub(
        rb'Ccy="[A-Z]{3}">([0-9]+)(?:\.([0-9]*))?<',
        lambda m: b'Ccy="VND">' + m.group(1) + (m.group(2) or b"").ljust(2, b"0") + b"<",
        content,
    )


def as_dong_mt940(text: str) -> str:
    """Test-only currency override for MT940: VND, amounts in minor units, a bank reference."""
    text = re.sub(
        r"(:6[0245][FM]?:[CD]\d{6})[A-Z]{3}(\d+),(\d*)",
        lambda m: f"{m.group(1)}VND{m.group(2)}{m.group(3).ljust(2, '0')},",
        text,
    )
    counter = iter(range(1, 100))
    return re.sub(r"(:61:\d{6}(?:\d{4})?R?[CD])(\d+),(\d*)(\S*)",
                  lambda m: f"{m.group(1)}{m.group(2)}{m.group(3).ljust(2, '0')},{m.group(4)}"
                  f"//B{next(counter)}", text)  # fmt: skip


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("genkgo-camt053.v8.xml", f"{CAMT_ENTRY.format(1)}/Amt: currency EUR is not VND"),
        ("genkgo-camt053.v2.multi.statement.xml",
         f"{CAMT_ENTRY.format(1)}/Amt: currency EUR is not VND"),
        ("genkgo-camt054.v8.xml", "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/Amt:"
         " currency SEK is not VND"),
        ("wolph-mt940-gv_codes.sta", "line 4 (:60F:): currency EUR is not VND"),
        ("wolph-mt940-jejik-generic.sta", "line 4 (:60F:): currency EUR is not VND"),
    ],
)  # fmt: skip
def test_third_party_samples_are_refused_for_their_currency(file_name: str, expected: str) -> None:
    path = THIRD_PARTY / file_name
    assert refusal(path.read_bytes(), CAMT if path.suffix == ".xml" else MT940) == expected


def test_third_party_camt_samples_parse_in_every_version() -> None:
    v8 = parse_statement(as_dong_xml((THIRD_PARTY / "genkgo-camt053.v8.xml").read_bytes()), CAMT)
    assert v8.lines[0].model_dump(exclude={"location", "line_no"}) == {
        "bank_account": "NL26VAYB8060476890", "booking_date": date(2014, 12, 31),
        "value_date": date(2015, 1, 2), "amount_minor": 885, "direction": CREDIT,
        "bank_reference": "AAAASESS-FP-CN_98765/01", "end_to_end_id": "MUELL/FINP/RA12345",
        "remittance_info": None, "counterparty": "NAME NAME",
    }  # fmt: skip
    batch = (THIRD_PARTY / "genkgo-camt054.v8.xml").read_bytes()
    (line,) = parse_statement(as_dong_xml(batch), CAMT).lines
    assert (line.amount_minor, line.direction, line.end_to_end_id, line.counterparty) == (
        20_000_000, DEBIT, None, None,  # a batch of three transfers: no single payee
    )  # fmt: skip
    assert line.remittance_info == (
        "Unstructured Remittance Information V1 Unstructured Remittance Information V3 block 1"
        " Unstructured Remittance Information V3 block 2"
    )
    multi = as_dong_xml((THIRD_PARTY / "genkgo-camt053.v2.multi.statement.xml").read_bytes())
    assert refusal(multi, CAMT) == (
        f"{CAMT_ENTRY.format(1)}: no bank reference (AcctSvcrRef, NtryRef or TxDtls/Refs)"
    )
    with_refs = multi.replace(b"</ValDt>", b"</ValDt><AcctSvcrRef>R</AcctSvcrRef>")
    first, second = parse_statement(with_refs, CAMT).lines
    assert second.location == "/Document/BkToCstmrStmt/Stmt[2]/Ntry[1]"
    assert (second.direction, second.counterparty, second.remittance_info) == (
        DEBIT, "Company Name 2", "Transaction Description 2",
    )  # fmt: skip
    assert first.bank_account == second.bank_account == "NL26VAYB8060476890"


def test_third_party_mt940_samples_parse_structured_details() -> None:
    sample = (THIRD_PARTY / "wolph-mt940-gv_codes.sta").read_text()
    converted = as_dong_mt940(sample)
    assert refusal(converted.encode(), MT940) == (
        "line 1 (:20:): the statement has no closing balance (:62F:): cut short?"
    )
    closed = converted.rstrip("\n") + "\n:62F:C191025VND1208767,\n"
    first, second = parse_statement(closed.encode(), MT940).lines
    assert first.bank_account == "1020304050"  # of "bank code/account", the account
    assert (first.amount_minor, first.direction, first.booking_date) == (
        23_315, DEBIT, date(2017, 9, 14),
    )  # fmt: skip
    assert first.end_to_end_id == "1234567890123 PAYPAL"
    assert first.counterparty == "PayPal (Europe) S.a.r.l. et"
    assert first.remittance_info is not None and "SPOTIFY" in first.remittance_info
    assert (second.booking_date, second.value_date, second.bank_reference) == (
        date(2019, 10, 25), date(2019, 10, 25), "B2",
    )  # fmt: skip
    jejik = as_dong_mt940((THIRD_PARTY / "wolph-mt940-jejik-generic.sta").read_text())
    lines = parse_statement(jejik.encode(), MT940).lines
    assert [(x.location, x.amount_minor) for x in lines] == [
        ("line 5 (:61:)", 1000), ("line 13 (:61:)", 1000),
    ]  # fmt: skip
    unreferenced = jejik.replace("//B1", "")
    assert refusal(unreferenced.encode(), MT940) == "line 5 (:61:): no bank reference"


# --- CSV rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (f"{ROW}150000,credit,FT1,,,,", "line 2: 10 cells where the header has 9"),
        (f"{ROW}150000,cr,FT1,,,",
         "line 2, column 'direction': 'cr' is not a credit or debit marker"),
        (f"{ROW}0,credit,FT1,,,", "line 2, column 'amount': '0' is not above zero"),
        (f"{ROW}-5,credit,FT1,,,", "line 2, column 'amount': '-5' is not an amount"),
        (f"{ROW}1e5,credit,FT1,,,", "line 2, column 'amount': '1e5' is not an amount"),
        (f"{ROW}{AMOUNT_MINOR_MAX + 1},credit,FT1,,,",
         f"line 2, column 'amount': '{AMOUNT_MINOR_MAX + 1}' is above the largest accepted amount"
         f" ({AMOUNT_MINOR_MAX})"),
        (f"{ROW}150000,credit,  ,,,", "line 2, column 'bank_reference': no bank reference"),
        (f"{ROW}150000,credit,{'R' * 65},,,",
         f"line 2, column 'bank_reference': bank reference '{'R' * 40}…' is longer than 64"),
        ("0071/234,2026-11-24,,150000,credit,FT1,,,",
         "line 2, column 'bank_account': '0071/234' is not a bank account number (4 to 34 letters,"
         " digits or '-')"),
    ],
)  # fmt: skip
def test_a_bad_generic_row_names_its_line_and_column(row: str, expected: str) -> None:
    assert refusal(generic(row), CSV, "generic") == expected


def test_split_amount_columns_need_exactly_one_amount() -> None:
    header = "Ngày giao dịch,Số tham chiếu,Số tiền ghi nợ,Số tiền ghi có\n"
    both = f'{header}24/11/2026,FT1,"1,000","2,000"\n'.encode()
    neither = f"{header}24/11/2026,FT1,0,-\n".encode()
    assert (
        refusal(both, CSV, "vcb") == "line 2: both the credit and the debit column hold an amount"
    )
    assert refusal(neither, CSV, "vcb") == (
        "line 2: neither the credit nor the debit column holds an amount"
    )


def test_csv_headers_match_loosely_and_optional_columns_may_be_missing() -> None:
    content = (
        "  NGÀY  giao dịch ,số tham chiếu,Số tiền ghi nợ,Số tiền ghi có\n"
        '24/11/2026,FT1,,"1,500,000.00"\n'
    ).encode()
    (line,) = parse_statement(content, CSV, mapping=MAPPINGS["vcb"]).lines
    assert (line.amount_minor, line.value_date, line.remittance_info) == (1_500_000, DAY, None)


def test_csv_text_is_cleaned_to_nfc_and_cut_to_the_contract_length() -> None:
    decomposed = unicodedata.normalize("NFD", "Nộp phí")
    row = f'0071000123456,2026-11-24,,150000,credit,FT1,,"{decomposed}\t {"x" * 600}",{decomposed}'
    (line,) = parse_statement(generic(row), CSV, mapping=MAPPINGS["generic"]).lines
    assert line.counterparty == "Nộp phí" != decomposed
    assert line.remittance_info is not None and len(line.remittance_info) == 500
    assert line.remittance_info.startswith("Nộp phí xxx")


def test_csv_locations_count_physical_lines_and_a_preamble() -> None:
    vcb = MAPPINGS["vcb"].model_copy(update={"header_line": 3})
    content = (
        "SAO KÊ TÀI KHOẢN,,,\nSố tài khoản: 0071000123456,,,\n"
        "Ngày giao dịch,Số tham chiếu,Số tiền ghi nợ,Số tiền ghi có\n"
        '24/11/2026,FT1,,"150,000"\n\n24/11/2026,FT2,,abc\n'
    ).encode()
    with pytest.raises(StatementError) as caught:
        parse_statement(content, CSV, mapping=vcb)
    assert str(caught.value) == "line 6, column 'Số tiền ghi có': 'abc' is not an amount"


def test_undecodable_or_unterminated_csv_is_refused_at_its_line() -> None:
    assert refusal(generic("x") + b"\xff\n", CSV, "generic") == "line 3: not utf-8 text"
    unterminated = generic('0071000123456,2026-11-24,,1,credit,FT1,,"open', "more")
    assert refusal(unterminated, CSV, "generic") == (
        "line 2: not valid CSV (unexpected end of data)"  # where the unclosed quote opens
    )


def test_a_file_may_hold_at_most_a_hundred_accounts() -> None:
    rows = [f"ACCT{n:04d},2026-11-24,,1000,credit,FT{n},,," for n in range(101)]
    assert refusal(generic(*rows), CSV, "generic") == (
        "line 102: more than 100 bank accounts in one file"
    )


# --- mappings and the entry point -----------------------------------------------------------


def test_the_shipped_mappings_load() -> None:
    assert {"vcb", "bidv", "vietinbank", "generic"} <= set(MAPPINGS)
    assert all(name == mapping.name for name, mapping in MAPPINGS.items())
    assert PARSER_VERSION == "2"


BASE = {"name": "x", "columns": {"booking_date": "d", "bank_reference": "r", "amount": "a"}}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({}, "give either a bank_account column or a fixed bank_account"),
        ({"bank_account": "0071000123456", "columns": {**BASE["columns"], "bank_account": "b"}},
         "give either a bank_account column or a fixed bank_account"),
        ({"bank_account": "0071000123456", "columns": {**BASE["columns"], "credit": "c"}},
         "credit and debit columns come together"),
        ({"bank_account": "0071000123456", "credit_markers": ["C"]},
         "a direction column and credit/debit markers come together"),
        ({"bank_account": "0071000123456", "columns": {**BASE["columns"], "direction": "t"},
          "credit_markers": ["C"], "debit_markers": ["c"]}, "a marker cannot mean both"),
        ({"bank_account": "0071000123456", "thousands_separator": "."}, "must differ"),
        ({"bank_account": "0071000123456", "encoding": "klingon"}, "unknown encoding"),
        ({"bank_account": "0071000123456", "columns": {**BASE["columns"], "counterparty": " A"}},
         "one column header is mapped to two fields"),
        ({"bank_account": "0071000123456", "date_format": "%d/%m"}, "cannot write and read back"),
    ],
)  # fmt: skip
def test_a_mapping_that_cannot_read_a_file_is_refused(
    change: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        CsvMapping.model_validate({**BASE, **change})


def test_a_mappings_file_with_a_bad_or_repeated_mapping_is_refused(tmp_path: Path) -> None:
    good = {**BASE, "bank_account": "0071000123456"}
    path = tmp_path / "mappings.json"
    path.write_text(f'{{"mappings": [{json.dumps(good)}, {json.dumps(good)}]}}', encoding="utf-8")
    with pytest.raises(ValueError, match="mapping 2: name 'x' is used twice"):
        load_csv_mappings(path)
    path.write_text(f'{{"mappings": [{json.dumps(BASE)}]}}', encoding="utf-8")
    with pytest.raises(ValueError, match="mapping 1: "):
        load_csv_mappings(path)


def test_the_entry_point_wants_a_mapping_for_csv_only() -> None:
    with pytest.raises(ValueError, match="needs a mapping"):
        parse_statement(b"", CSV)
    with pytest.raises(ValueError, match="needs a mapping"):
        parse_statement(b"", CAMT, mapping=MAPPINGS["generic"])


def test_a_statement_error_keeps_its_parts_and_survives_pickling() -> None:
    error = StatementError("line 17, column 'amount'", "'1.5' is not a whole number of dong")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.location, copy.message) == (error.location, error.message)
    assert str(copy) == "line 17, column 'amount': '1.5' is not a whole number of dong"
    assert isinstance(copy, ValueError)


# --- property: the generic layout reads back what was written -------------------------------

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậđèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợ"
TEXT = st.text(alphabet=VIETNAMESE + VIETNAMESE.upper() + "0123456789 ,.;:/-\"'", max_size=120)
CLEAN_TEXT = TEXT.map(lambda text: " ".join(text.split())).filter(bool)
PLACEHOLDERS = {"NONREF", "NOTPROVIDED"}
REFERENCE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/_.\-]{0,40}", fullmatch=True)
LINES = st.lists(
    st.fixed_dictionaries({
        "bank_account": st.from_regex(r"[A-Z0-9][A-Z0-9\-]{3,20}", fullmatch=True),
        "booking_date": st.dates(date(2000, 1, 1), date(2099, 12, 31)),
        "value_date": st.dates(date(2000, 1, 1), date(2099, 12, 31)),
        "amount_minor": st.integers(1, AMOUNT_MINOR_MAX),
        "direction": st.sampled_from(Direction),
        "bank_reference": REFERENCE,
        "end_to_end_id": st.none() | REFERENCE.filter(lambda x: x.upper() not in PLACEHOLDERS),
        "remittance_info": st.none() | CLEAN_TEXT,
        "counterparty": st.none() | CLEAN_TEXT,
    }),
    min_size=1,
    max_size=30,
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_generic_csv_reads_back_any_lines_written_in_it(lines: list[dict[str, object]]) -> None:
    mapping = MAPPINGS["generic"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=mapping.delimiter)
    buffer.write(GENERIC_HEADER)
    for line in lines:
        writer.writerow([
            line["bank_account"], line["booking_date"], line["value_date"], line["amount_minor"],
            line["direction"], line["bank_reference"], line["end_to_end_id"] or "",
            line["remittance_info"] or "", line["counterparty"] or "",
        ])  # fmt: skip
    expected = tuple(
        SettlementLine.model_validate({**line, "line_no": n, "location": f"line {n + 1}"})
        for n, line in enumerate(lines, 1)
    )
    parsed = parse_statement(buffer.getvalue().encode(), CSV, mapping=mapping)
    assert parsed.lines == expected
