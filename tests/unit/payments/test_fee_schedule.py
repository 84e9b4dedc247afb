"""Proves the fee schedule and unit tree: the shipped files load and are consistent, fees are
priced exactly (flat, per unit, free, either side of a fee change), the version names the exact
content, and every kind of bad cell is refused with its spreadsheet row and column."""

import csv
import io
import re
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.adapters.schedule_files import (
    FEE_SCHEDULE_FILE_NAME,
    load_fee_schedule,
    load_units,
    read_packaged_text,
)
from payments.domain.errors import NotFoundError, PaymentsDomainError
from payments.domain.fee_schedule import (
    FEE_COLUMNS,
    FEE_MINOR_MAX,
    QUANTITY_MAX,
    UNIT_COLUMNS,
    AdministrativeUnit,
    FeeSchedule,
    FeeScheduleFormatError,
    InvalidQuantityError,
    Procedure,
    ProcedureNotFoundError,
    ProcedureNotInEffectError,
    UnitDirectory,
    UnitNotFoundError,
    UnitsFormatError,
    parse_fee_schedule,
    parse_units,
)
from schemas.events.payments_v1 import AdministrativeLevel

AFTER_CHANGE_ON = date(2026, 3, 2)


def fee_row(**overrides: str) -> dict[str, str]:
    cells = {
        "procedure_code": "HT-X-04",
        "procedure_name": "Cấp bản sao trích lục hộ tịch",
        "agency_code": "UBND-XA",
        "agency_name": "Ủy ban nhân dân cấp xã",
        "administrative_level": "commune",
        "fee_base_vnd": "0",
        "fee_per_unit_vnd": "8000",
        "unit_name": "bản",
        "effective_from": "2024-01-01",
        "effective_to": "",
    }
    cells.update(overrides)
    return cells


def csv_text(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([row.get(column, "") for column in columns] for row in rows)
    return out.getvalue()


def parse_rows(*rows: dict[str, str], label: str = "test.1") -> FeeSchedule:
    return parse_fee_schedule(csv_text(list(rows), FEE_COLUMNS), source="fees.csv", label=label)


def unit_row(code: str, name: str, level: str, parent: str = "") -> dict[str, str]:
    return {"unit_code": code, "unit_name": name, "level": level, "parent_code": parent}


def valid_units() -> list[dict[str, str]]:
    return [
        unit_row("VP", "Tỉnh Vĩnh Phúc", "province"),
        unit_row("VP-VY", "Thành phố Vĩnh Yên", "district", "VP"),
        unit_row("VP-VY-NQ", "Phường Ngô Quyền", "commune", "VP-VY"),
    ]


# -- the shipped data ------------------------------------------------------------------------


def test_shipped_schedule_has_a_dozen_or_more_procedures_at_each_level() -> None:
    schedule = load_fee_schedule()
    in_effect = schedule.procedures_in_effect(AFTER_CHANGE_ON)
    assert 40 <= len(schedule) <= 60
    for level in AdministrativeLevel:
        assert sum(p.administrative_level is level for p in in_effect) >= 12, level
    assert re.fullmatch(r"2026\.1\+[0-9a-f]{12}", schedule.version)


def test_shipped_schedule_has_free_per_unit_and_changed_fees() -> None:
    procedures = load_fee_schedule().procedures
    assert sum(p.fee_base_minor == p.fee_per_unit_minor == 0 for p in procedures) >= 3
    assert sum(p.fee_per_unit_minor > 0 for p in procedures) >= 3
    ending = {p.code for p in procedures if p.effective_to == date(2025, 12, 31)}
    starting = {p.code for p in procedures if p.effective_from == date(2026, 1, 1)}
    assert ending & starting


def test_every_shipped_agency_has_one_name_and_one_level() -> None:
    agencies: dict[str, set[tuple[str, AdministrativeLevel]]] = {}
    for procedure in load_fee_schedule().procedures:
        agencies.setdefault(procedure.agency_code, set()).add(
            (procedure.agency_name, procedure.administrative_level)
        )
    assert len(agencies) >= 10
    assert {code: rows for code, rows in agencies.items() if len(rows) != 1} == {}


def test_shipped_names_are_vietnamese_with_diacritics() -> None:
    procedures = load_fee_schedule().procedures
    assert all(not procedure.name.isascii() for procedure in procedures)
    assert all(not unit.name.isascii() for unit in load_units().units)


def test_shipped_units_form_one_province_of_districts_of_communes() -> None:
    units = load_units()
    (province,) = units.units_at(AdministrativeLevel.PROVINCE)
    districts = units.children(province.code)
    assert districts == units.units_at(AdministrativeLevel.DISTRICT)
    assert 8 <= len(districts) <= 10
    for district in districts:
        communes = units.children(district.code)
        assert 3 <= len(communes) <= 5, district.code
        assert all(commune.level is AdministrativeLevel.COMMUNE for commune in communes)
    assert len(units) == 1 + len(districts) + len(units.units_at(AdministrativeLevel.COMMUNE))


# -- pricing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "quantity", "amount_minor"),
    [
        ("GTVT-GPLX-01", 1, 135_000),  # flat: cấp đổi giấy phép lái xe
        ("GTVT-GPLX-01", 3, 135_000),  # a quantity does not change a flat fee
        ("CT-X-01", 3, 6_000),  # 3 pages x 2,000 dong
        ("HT-X-04", 2, 16_000),  # 2 copies x 8,000 dong
        ("HT-X-01", 1, 0),  # đăng ký khai sinh is free
    ],
)
def test_prices_flat_per_unit_and_free_fees(code: str, quantity: int, amount_minor: int) -> None:
    schedule = load_fee_schedule()
    priced = schedule.price(code, AFTER_CHANGE_ON, quantity)
    assert (priced.amount_minor, priced.quantity) == (amount_minor, quantity)
    assert type(priced.amount_minor) is int
    assert priced.schedule_version == schedule.version
    assert priced.procedure.code == code


@pytest.mark.parametrize(
    ("on", "amount_minor"),
    [(date(2025, 6, 30), 200_000), (date(2025, 12, 31), 100_000), (date(2026, 1, 1), 200_000)],
)
def test_a_fee_change_applies_from_its_first_day(on: date, amount_minor: int) -> None:
    assert load_fee_schedule().price("TP-LLTP-01", on).amount_minor == amount_minor


def test_unknown_code_and_a_day_outside_every_period_are_refused() -> None:
    schedule = load_fee_schedule()
    with pytest.raises(ProcedureNotFoundError, match="'NO-SUCH'") as not_found:
        schedule.price("NO-SUCH", AFTER_CHANGE_ON)
    assert isinstance(not_found.value, NotFoundError)
    assert not_found.value.code == "procedure_not_found"
    with pytest.raises(ProcedureNotInEffectError, match="2023-12-31") as too_early:
        schedule.price("TP-LLTP-01", date(2023, 12, 31))
    assert too_early.value.context == {"procedure_code": "TP-LLTP-01", "on": date(2023, 12, 31)}


@pytest.mark.parametrize("quantity", [0, -1, QUANTITY_MAX + 1, True])
def test_quantities_outside_one_to_the_maximum_are_refused(quantity: int) -> None:
    with pytest.raises(InvalidQuantityError, match=rf"quantity {quantity!r} ") as refused:
        load_fee_schedule().price("CT-X-01", AFTER_CHANGE_ON, quantity)
    assert refused.value.code == "invalid_quantity"


def test_units_are_looked_up_by_code() -> None:
    units = load_units()
    assert units.unit("VP-VY-NQ").parent_code == "VP-VY"
    with pytest.raises(UnitNotFoundError, match="'VP-XX'"):
        units.unit("VP-XX")
    with pytest.raises(UnitNotFoundError):
        units.children("VP-XX")


# -- the version -----------------------------------------------------------------------------


def test_version_is_stable_for_the_same_rows_and_changes_with_one_dong() -> None:
    text = read_packaged_text(FEE_SCHEDULE_FILE_NAME)
    first = parse_fee_schedule(text, source="a.csv", label="2026.1")
    assert parse_fee_schedule(text, source="b.csv", label="2026.1").version == first.version
    header, *lines = text.splitlines(keepends=True)
    reordered = parse_fee_schedule(header + "".join(reversed(lines)), source="c", label="2026.1")
    assert reordered.version == first.version
    edited = text.replace(",135000,0,", ",135001,0,", 1)
    assert edited != text
    assert parse_fee_schedule(edited, source="d.csv", label="2026.1").version != first.version
    relabelled = parse_fee_schedule(text, source="e.csv", label="2026.2").version
    assert relabelled.split("+")[1] == first.version.split("+")[1]


# -- bad fee files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "column", "message"),
    [
        ({"fee_base_vnd": "12.5"}, "fee_base_vnd", "'12.5' is not a whole number of dong"),
        ({"fee_base_vnd": "1e3"}, "fee_base_vnd", "not a whole number"),
        ({"fee_base_vnd": "-5"}, "fee_base_vnd", "not a whole number"),
        ({"fee_base_vnd": "10,000"}, "fee_base_vnd", "not a whole number"),
        ({"fee_base_vnd": " "}, "fee_base_vnd", "not a whole number"),
        ({"fee_base_vnd": "1_000"}, "fee_base_vnd", "not a whole number"),
        ({"fee_base_vnd": "٣"}, "fee_base_vnd", "not a whole number"),
        ({"fee_base_vnd": ""}, "fee_base_vnd", "the cell is empty"),
        ({"fee_base_vnd": str(FEE_MINOR_MAX + 1)}, "fee_base_vnd", "above the maximum"),
        ({"fee_per_unit_vnd": "8000.0"}, "fee_per_unit_vnd", "not a whole number"),
        ({"administrative_level": "tinh"}, "administrative_level", "not one of province"),
        ({"administrative_level": "Commune"}, "administrative_level", "not one of"),
        ({"effective_from": "2026/01/01"}, "effective_from", "not a date written YYYY-MM-DD"),
        ({"effective_from": "2026-02-30"}, "effective_from", "not a date"),
        ({"effective_from": "20260101"}, "effective_from", "not a date"),
        ({"effective_from": ""}, "effective_from", "the cell is empty"),
        ({"effective_to": "31-12-2025"}, "effective_to", "not a date"),
        ({"effective_to": "2023-12-31"}, "effective_to", "before effective_from 2024-01-01"),
        ({"unit_name": ""}, "unit_name", "a per-unit fee needs its unit"),
        ({"fee_per_unit_vnd": "0"}, "unit_name", "there is no per-unit fee"),
        ({"procedure_code": "ht-x-04"}, "procedure_code", "not a code"),
        ({"procedure_code": ""}, "procedure_code", "the cell is empty"),
        ({"agency_code": "UBND XA"}, "agency_code", "not a code"),
        ({"procedure_name": " Cấp bản sao"}, "procedure_name", "leading or trailing spaces"),
        ({"procedure_name": "Cấp\tbản sao"}, "procedure_name", "control character"),
        ({"agency_name": ""}, "agency_name", "the cell is empty"),
    ],
)
def test_a_bad_cell_is_refused_with_its_row_and_column(
    overrides: dict[str, str], column: str, message: str
) -> None:
    good = fee_row(procedure_code="HT-X-01", fee_per_unit_vnd="0", unit_name="")
    with pytest.raises(FeeScheduleFormatError) as refused:
        parse_rows(good, fee_row(**overrides))
    assert (refused.value.source, refused.value.row, refused.value.column) == (
        "fees.csv",
        3,
        column,
    )
    assert message in refused.value.message
    assert str(refused.value).startswith(f"fees.csv row 3, column {column}: ")
    assert isinstance(refused.value, PaymentsDomainError)
    assert refused.value.code == "fee_schedule_invalid"


def test_the_error_reads_like_a_sentence_about_the_spreadsheet() -> None:
    rows = [fee_row(procedure_code=f"P-{n}") for n in range(12)] + [fee_row(fee_base_vnd="12.5")]
    with pytest.raises(FeeScheduleFormatError) as refused:
        parse_fee_schedule(csv_text(rows, FEE_COLUMNS), source="fee_schedule.csv", label="x")
    assert str(refused.value) == (
        "fee_schedule.csv row 14, column fee_base_vnd: '12.5' is not a whole number of dong"
    )


@pytest.mark.parametrize(
    ("periods", "bad_row"),
    [
        ([("2024-01-01", ""), ("2026-01-01", "")], 3),
        ([("2024-01-01", "2025-12-31"), ("2025-12-31", "")], 3),  # one shared day
        ([("2024-01-01", "2024-12-31"), ("2024-01-01", "2024-12-31")], 3),  # a duplicate
        ([("2026-01-01", ""), ("2024-01-01", "2025-12-31"), ("2025-06-01", "2025-06-30")], 4),
    ],
)
def test_overlapping_periods_of_one_code_are_refused(
    periods: list[tuple[str, str]], bad_row: int
) -> None:
    rows = [fee_row(effective_from=start, effective_to=end) for start, end in periods]
    with pytest.raises(FeeScheduleFormatError, match="overlaps") as refused:
        parse_rows(*rows)
    assert (refused.value.row, refused.value.column) == (bad_row, "effective_from")


def test_back_to_back_periods_of_one_code_are_accepted() -> None:
    old = fee_row(fee_per_unit_vnd="5000", effective_to="2025-12-31")
    new = fee_row(fee_per_unit_vnd="8000", effective_from="2026-01-01")
    schedule = parse_rows(new, old)
    assert schedule.price("HT-X-04", date(2025, 12, 31), 2).amount_minor == 10_000
    assert schedule.price("HT-X-04", date(2026, 1, 1), 2).amount_minor == 16_000


@pytest.mark.parametrize(
    ("text", "row", "column", "message"),
    [
        ("", 1, "", "the file is empty"),
        (csv_text([], FEE_COLUMNS), 2, "", "no data rows"),
        (csv_text([fee_row()], FEE_COLUMNS[:-1]), 1, "effective_to", "missing in the header"),
        (csv_text([fee_row()], (*FEE_COLUMNS, "fee_vnd")), 1, "fee_vnd", "unknown"),
        (csv_text([fee_row()], (*FEE_COLUMNS, "unit_name")), 1, "unit_name", "repeated"),
        (csv_text([], FEE_COLUMNS) + "HT-X-04,Cấp bản sao\n", 2, "agency_code", "2 cells"),
        (csv_text([fee_row()], FEE_COLUMNS) + '"HT-X-05,unclosed\n', 3, "", "not valid CSV"),
    ],
)
def test_bad_headers_and_row_shapes_are_refused(
    text: str, row: int, column: str, message: str
) -> None:
    with pytest.raises(FeeScheduleFormatError, match=message) as refused:
        parse_fee_schedule(text, source="fees.csv", label="x")
    assert (refused.value.row, refused.value.column) == (row, column)


def test_columns_may_come_in_any_order_and_blank_lines_still_count_as_rows() -> None:
    columns = tuple(reversed(FEE_COLUMNS))
    text = "\ufeff" + csv_text([fee_row()], columns) + "\n" + csv_text([fee_row()], columns)
    with pytest.raises(FeeScheduleFormatError) as refused:  # the header repeated as data
        parse_fee_schedule(text, source="fees.csv", label="x")
    assert refused.value.row == 4
    assert len(parse_fee_schedule(csv_text([fee_row()], columns), source="f", label="x")) == 1


def test_decomposed_diacritics_are_read_as_the_same_text() -> None:
    composed = parse_rows(fee_row())
    name_nfd = unicodedata.normalize("NFD", "Cấp bản sao trích lục hộ tịch")
    decomposed = parse_rows(fee_row(procedure_name=name_nfd))
    assert decomposed.procedures[0].name == composed.procedures[0].name
    assert decomposed.version == composed.version


def test_constructors_repeat_the_checks_for_data_built_in_code() -> None:
    procedure = parse_rows(fee_row()).procedures[0]
    with pytest.raises(ValueError, match="overlaps"):
        FeeSchedule("x", (procedure, procedure))
    with pytest.raises(ValueError, match="label"):
        FeeSchedule("2026+1", (procedure,))
    with pytest.raises(ValueError, match="parent_code"):
        UnitDirectory(
            (AdministrativeUnit("VP-VY", "Vĩnh Yên", AdministrativeLevel.DISTRICT, "VP"),)
        )


# -- bad unit files --------------------------------------------------------------------------


def with_row(row: dict[str, str]) -> list[dict[str, str]]:
    return [*valid_units(), row]


@pytest.mark.parametrize(
    ("rows", "column", "message"),
    [
        (with_row(unit_row("HN", "Hà Nội", "province")), "level", "a second province"),
        (with_row(unit_row("VP-XX", "Xã X", "commune", "VP-ZZ")), "parent_code", "not a unit"),
        (with_row(unit_row("VP-XX", "Xã X", "commune", "VP")), "parent_code", "is a province"),
        (with_row(unit_row("VP-XX", "Huyện X", "district", "VP-VY")), "parent_code", "district"),
        (with_row(unit_row("VP-XX", "Xã X", "commune", "VP-VY-NQ")), "parent_code", "commune"),
        (with_row(unit_row("VP-XX", "Huyện X", "district")), "parent_code", "the cell is empty"),
        (with_row(unit_row("VP-VY", "Vĩnh Yên", "district", "VP")), "unit_code", "row 3"),
        (with_row(unit_row("VP-XX", "Huyện X", "huyen", "VP")), "level", "not one of"),
        (with_row(unit_row("vp-xx", "Huyện X", "district", "VP")), "unit_code", "not a code"),
        (with_row(unit_row("VP-XX", "", "district", "VP")), "unit_name", "the cell is empty"),
    ],
)
def test_a_bad_unit_row_is_refused_with_its_row_and_column(
    rows: list[dict[str, str]], column: str, message: str
) -> None:
    with pytest.raises(UnitsFormatError, match=message) as refused:
        parse_units(csv_text(rows, UNIT_COLUMNS), source="units.csv")
    assert (refused.value.row, refused.value.column) == (5, column)
    assert str(refused.value).startswith(f"units.csv row 5, column {column}: ")


def test_a_province_with_a_parent_and_a_missing_column_are_refused() -> None:
    rows = [unit_row("VP", "Tỉnh Vĩnh Phúc", "province", "VN")]
    with pytest.raises(UnitsFormatError, match="a province has none") as with_parent:
        parse_units(csv_text(rows, UNIT_COLUMNS), source="units.csv")
    assert (with_parent.value.row, with_parent.value.column) == (2, "parent_code")
    with pytest.raises(UnitsFormatError, match="missing") as missing:
        parse_units(csv_text(rows, UNIT_COLUMNS[:3]), source="units.csv")
    assert (missing.value.row, missing.value.column) == (1, "parent_code")


def test_a_commune_may_be_listed_before_its_district() -> None:
    province, district, commune = valid_units()
    units = parse_units(csv_text([commune, province, district], UNIT_COLUMNS), source="u")
    assert [unit.code for unit in units.children("VP-VY")] == ["VP-VY-NQ"]


# -- property --------------------------------------------------------------------------------

FEES_MINOR = st.integers(min_value=0, max_value=10**9)


@given(
    fee_base_minor=FEES_MINOR,
    fee_per_unit_minor=st.one_of(st.just(0), FEES_MINOR),
    quantity=st.integers(min_value=1, max_value=QUANTITY_MAX),
)
def test_amount_is_base_plus_per_unit_times_quantity(
    fee_base_minor: int, fee_per_unit_minor: int, quantity: int
) -> None:
    row = fee_row(
        fee_base_vnd=str(fee_base_minor),
        fee_per_unit_vnd=str(fee_per_unit_minor),
        unit_name="trang" if fee_per_unit_minor else "",
    )
    priced = parse_rows(row).price("HT-X-04", date(2026, 1, 1), quantity)
    assert priced.amount_minor == fee_base_minor + fee_per_unit_minor * quantity
    assert type(priced.amount_minor) is int


def test_the_largest_fees_cannot_price_above_the_money_maximum() -> None:
    procedure = Procedure(
        code="BIG",
        name="Phí lớn nhất",
        agency_code="SO-TAI-CHINH",
        agency_name="Sở Tài chính",
        administrative_level=AdministrativeLevel.PROVINCE,
        fee_base_minor=FEE_MINOR_MAX,
        fee_per_unit_minor=FEE_MINOR_MAX,
        unit_name="bản",
        effective_from=date(2024, 1, 1),
        effective_to=None,
    )
    schedule = FeeSchedule("x", (procedure,))
    assert schedule.price("BIG", date(2026, 1, 1), 998).amount_minor == 999 * FEE_MINOR_MAX
    with pytest.raises(InvalidQuantityError, match="above the maximum"):
        schedule.price("BIG", date(2026, 1, 1), QUANTITY_MAX)
