"""The versioned fee schedule and the province's administrative units, parsed from CSV text.

Pure: callers hand in the text (payments/adapters/schedule_files.py reads the packaged files), so
the same rows always give the same schedule version and a replay can re-price a payment exactly.
A file is accepted whole or not at all: the first bad cell raises an error naming row and column.
"""

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from payments.domain.errors import NotFoundError, PaymentsDomainError
from schemas.events.payments_v1 import AdministrativeLevel
from schemas.money import AMOUNT_MINOR_MAX

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9._\-]{0,63}")
LABEL_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z._\-]{0,31}")
DIGITS_PATTERN = re.compile(r"[0-9]+")
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
QUANTITY_MAX = 1000
FEE_MINOR_MAX = 10**12
NAME_LENGTH_MAX = 300
ROW_COUNT_MAX = 10_000
VERSION_DIGEST_HEX_LENGTH = 12

FEE_COLUMNS = (
    "procedure_code",
    "procedure_name",
    "agency_code",
    "agency_name",
    "administrative_level",
    "fee_base_vnd",
    "fee_per_unit_vnd",
    "unit_name",
    "effective_from",
    "effective_to",
)
UNIT_COLUMNS = ("unit_code", "unit_name", "level", "parent_code")
# Field names of the value objects that differ from the CSV column they are read from.
_PROCEDURE_FIELD_COLUMNS = {
    "code": "procedure_code",
    "name": "procedure_name",
    "fee_base_minor": "fee_base_vnd",
    "fee_per_unit_minor": "fee_per_unit_vnd",
}
_UNIT_FIELD_COLUMNS = {"code": "unit_code", "name": "unit_name"}
_LEVELS_TEXT = ", ".join(level.value for level in AdministrativeLevel)


class ProcedureNotFoundError(NotFoundError):
    code = "procedure_not_found"

    def __init__(self, procedure_code: str) -> None:
        super().__init__(
            f"procedure {procedure_code!r} is not in the fee schedule",
            procedure_code=procedure_code,
        )


class ProcedureNotInEffectError(PaymentsDomainError):
    """The code exists, but none of its rows covers the day: priced too early or after repeal."""

    code = "procedure_not_in_effect"

    def __init__(self, procedure_code: str, on: date, periods: str = "") -> None:
        detail = f" (its fee rows cover {periods})" if periods else ""
        super().__init__(
            f"procedure {procedure_code!r} has no fee in effect on {on.isoformat()}{detail}",
            procedure_code=procedure_code,
            on=on,
        )


class InvalidQuantityError(PaymentsDomainError):
    code = "invalid_quantity"

    def __init__(self, quantity: object, reason: str = "") -> None:
        reason = reason or f"must be a whole number from 1 to {QUANTITY_MAX}"
        super().__init__(f"quantity {quantity!r} {reason}", field="quantity", quantity=quantity)


class UnitNotFoundError(NotFoundError):
    code = "unit_not_found"

    def __init__(self, unit_code: str) -> None:
        super().__init__(f"administrative unit {unit_code!r} is not known", unit_code=unit_code)


class DataFileFormatError(PaymentsDomainError):
    """A shipped data file breaks a rule; row 1 is the header, as a spreadsheet numbers it."""

    code = "data_file_invalid"

    def __init__(self, source: str, row: int, column: str, message: str) -> None:
        where = f"{source} row {row}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}", source=source, row=row, column=column)
        self.source = source
        self.row = row
        self.column = column
        self.message = message


class FeeScheduleFormatError(DataFileFormatError):
    code = "fee_schedule_invalid"


class UnitsFormatError(DataFileFormatError):
    code = "units_invalid"


class FieldRuleError(ValueError):
    """A value object was given a field that breaks its rules. Parsers turn it into a row error;
    from anywhere else it is a bug and should crash."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _check_code(field: str, value: str) -> None:
    if not CODE_PATTERN.fullmatch(value):
        raise FieldRuleError(field, f"{value!r} is not a code (A-Z, 0-9, '.', '_', '-'; 1-64)")


def _check_text(field: str, value: str) -> None:
    """Names end up on receipts, so stray spaces, control characters and decomposed diacritics
    (which would hash differently from the same visible text) are refused."""
    if not value:
        raise FieldRuleError(field, "the cell is empty")
    if len(value) > NAME_LENGTH_MAX:
        raise FieldRuleError(field, f"is longer than {NAME_LENGTH_MAX} characters")
    if value != value.strip():
        raise FieldRuleError(field, f"{value!r} has leading or trailing spaces")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise FieldRuleError(field, f"{value!r} contains a control character")
    if not unicodedata.is_normalized("NFC", value):
        raise FieldRuleError(field, f"{value!r} is not in Unicode NFC form")


def _check_fee(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= FEE_MINOR_MAX:
        raise FieldRuleError(field, f"{value!r} is not a whole number of dong from 0 to 10**12")


def _format_period(start: date, end: date | None) -> str:
    return f"{start.isoformat()}..{end.isoformat() if end else '(open)'}"


@dataclass(frozen=True)
class Procedure:
    """One fee-schedule row: what a procedure costs at one agency during one period.

    A fee change is a new row for the same code with a later period, so a payment priced before
    the change can still be re-priced from the row it used.
    """

    code: str
    name: str
    agency_code: str
    agency_name: str
    administrative_level: AdministrativeLevel
    fee_base_minor: int
    fee_per_unit_minor: int
    unit_name: str | None
    effective_from: date
    effective_to: date | None  # the last day the fee applies, inclusive; None is open-ended

    def __post_init__(self) -> None:
        _check_code("code", self.code)
        _check_text("name", self.name)
        _check_code("agency_code", self.agency_code)
        _check_text("agency_name", self.agency_name)
        _check_fee("fee_base_minor", self.fee_base_minor)
        _check_fee("fee_per_unit_minor", self.fee_per_unit_minor)
        if self.fee_per_unit_minor > 0 and self.unit_name is None:
            raise FieldRuleError("unit_name", "the cell is empty, a per-unit fee needs its unit")
        if self.fee_per_unit_minor == 0 and self.unit_name is not None:
            raise FieldRuleError(
                "unit_name", f"{self.unit_name!r} is set, but there is no per-unit fee"
            )
        if self.unit_name is not None:
            _check_text("unit_name", self.unit_name)
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise FieldRuleError(
                "effective_to",
                f"{self.effective_to.isoformat()} is before effective_from "
                f"{self.effective_from.isoformat()}",
            )

    @property
    def period(self) -> str:
        return _format_period(self.effective_from, self.effective_to)

    def in_effect_on(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@dataclass(frozen=True)
class PricedFee:
    """A fee fixed from one schedule version. The checks make a hand-built or replayed one
    that does not add up fail loudly instead of charging a wrong amount."""

    procedure: Procedure
    quantity: int
    amount_minor: int
    schedule_version: str

    def __post_init__(self) -> None:
        if not 1 <= self.quantity <= QUANTITY_MAX:
            raise InvalidQuantityError(self.quantity)
        expected_minor = self.procedure.fee_base_minor + self.procedure.fee_per_unit_minor * (
            self.quantity
        )
        if self.amount_minor != expected_minor:
            raise ValueError(
                f"amount_minor {self.amount_minor} != {expected_minor}, the fee of "
                f"{self.procedure.code} for quantity {self.quantity}"
            )


def _first_overlap(procedures: tuple[Procedure, ...]) -> tuple[int, int] | None:
    """(earlier, later) positions of the overlapping pair whose later one comes first, if any."""
    positions_by_code: dict[str, list[int]] = {}
    for position, procedure in enumerate(procedures):
        positions_by_code.setdefault(procedure.code, []).append(position)
    pairs: list[tuple[int, int]] = []
    for positions in positions_by_code.values():
        ordered = sorted(positions, key=lambda p: (procedures[p].effective_from, p))
        for earlier, later in pairwise(ordered):
            end = procedures[earlier].effective_to
            if end is None or end >= procedures[later].effective_from:
                pairs.append((min(earlier, later), max(earlier, later)))
    return min(pairs, key=lambda pair: pair[1]) if pairs else None


def _overlap_message(procedures: tuple[Procedure, ...], pair: tuple[int, int], other: str) -> str:
    first, second = procedures[pair[0]], procedures[pair[1]]
    return (
        f"the period {second.period} of {second.code} overlaps its period {first.period} at {other}"
    )


def _schedule_digest(procedures: tuple[Procedure, ...]) -> str:
    """SHA-256 over every row in a fixed order and encoding: any edit changes it, reordering
    the file does not."""
    rows = [
        [
            p.code,
            p.effective_from.isoformat(),
            p.effective_to.isoformat() if p.effective_to else None,
            p.name,
            p.agency_code,
            p.agency_name,
            p.administrative_level.value,
            p.fee_base_minor,
            p.fee_per_unit_minor,
            p.unit_name,
        ]
        for p in sorted(procedures, key=lambda p: (p.code, p.effective_from))
    ]
    encoded = json.dumps(["fee-schedule/1", rows], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:VERSION_DIGEST_HEX_LENGTH]


class FeeSchedule:
    """Every procedure's fee over time, under a version that names its exact content.

    A payment records `version`; a replay loads the same version and gets the same amount.
    """

    def __init__(self, label: str, procedures: tuple[Procedure, ...]) -> None:
        if not LABEL_PATTERN.fullmatch(label):
            raise ValueError(f"schedule label {label!r} must match {LABEL_PATTERN.pattern}")
        if not procedures:
            raise ValueError("a fee schedule needs at least one procedure")
        pair = _first_overlap(procedures)
        if pair is not None:
            raise ValueError(_overlap_message(procedures, pair, f"procedure #{pair[0] + 1}"))
        self._label = label
        self._procedures = procedures
        self._version = f"{label}+{_schedule_digest(procedures)}"
        self._by_code: dict[str, list[Procedure]] = {}
        for procedure in sorted(procedures, key=lambda p: (p.code, p.effective_from)):
            self._by_code.setdefault(procedure.code, []).append(procedure)

    @property
    def label(self) -> str:
        return self._label

    @property
    def version(self) -> str:
        """`label+` the first 12 hex digits of SHA-256 over the rows, e.g. "2026.1+e5a84800c747"."""
        return self._version

    @property
    def procedures(self) -> tuple[Procedure, ...]:
        """Every row in file order."""
        return self._procedures

    def __len__(self) -> int:
        """The number of rows; a code whose fee changed counts once per period."""
        return len(self._procedures)

    def procedure(self, code: str, on: date) -> Procedure:
        rows = self._by_code.get(code)
        if rows is None:
            raise ProcedureNotFoundError(code)
        for row in rows:
            if row.in_effect_on(on):
                return row
        raise ProcedureNotInEffectError(code, on, ", ".join(row.period for row in rows))

    def price(self, code: str, on: date, quantity: int = 1) -> PricedFee:
        """The fee for `quantity` units (pages, copies); a flat fee ignores the quantity."""
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidQuantityError(quantity, "is not a whole number")
        if not 1 <= quantity <= QUANTITY_MAX:
            raise InvalidQuantityError(quantity)
        procedure = self.procedure(code, on)
        amount_minor = procedure.fee_base_minor + procedure.fee_per_unit_minor * quantity
        if amount_minor > AMOUNT_MINOR_MAX:
            raise InvalidQuantityError(quantity, f"makes {amount_minor} VND, above the maximum")
        return PricedFee(procedure, quantity, amount_minor, self.version)

    def procedures_in_effect(self, on: date) -> list[Procedure]:
        return [row for rows in self._by_code.values() for row in rows if row.in_effect_on(on)]


@dataclass(frozen=True)
class AdministrativeUnit:
    """A province, district or commune; only the province has no parent."""

    code: str
    name: str
    level: AdministrativeLevel
    parent_code: str | None

    def __post_init__(self) -> None:
        _check_code("code", self.code)
        _check_text("name", self.name)
        if self.level is AdministrativeLevel.PROVINCE and self.parent_code is not None:
            raise FieldRuleError("parent_code", f"{self.parent_code!r} is set, a province has none")
        if self.level is not AdministrativeLevel.PROVINCE and self.parent_code is None:
            raise FieldRuleError(
                "parent_code", f"the cell is empty, a {self.level.value} needs one"
            )
        if self.parent_code is not None:
            _check_code("parent_code", self.parent_code)


_PARENT_LEVEL = {
    AdministrativeLevel.DISTRICT: AdministrativeLevel.PROVINCE,
    AdministrativeLevel.COMMUNE: AdministrativeLevel.DISTRICT,
}


def _tree_problems(
    units: tuple[AdministrativeUnit, ...], where: Callable[[int], str]
) -> Iterator[tuple[int, str, str]]:
    """(position, field, message) for each unit that breaks the tree, in file order: one
    province, districts under it, communes under a district, no duplicate codes."""
    first_position: dict[str, int] = {}
    for position, unit in enumerate(units):
        first_position.setdefault(unit.code, position)
    province_position: int | None = None
    for position, unit in enumerate(units):
        if first_position[unit.code] != position:
            yield (
                position,
                "code",
                f"{unit.code} is already defined at {where(first_position[unit.code])}",
            )
        if unit.level is AdministrativeLevel.PROVINCE:
            if province_position is not None:
                other = units[province_position].code
                yield (
                    position,
                    "level",
                    f"a second province; {other} at {where(province_position)} is the one",
                )
            province_position = position
        if unit.parent_code is None:
            continue
        parent_position = first_position.get(unit.parent_code)
        if parent_position is None:
            yield position, "parent_code", f"{unit.parent_code} is not a unit in this directory"
            continue
        parent = units[parent_position]
        if parent.level is not _PARENT_LEVEL[unit.level]:
            yield (
                position,
                "parent_code",
                (
                    f"{parent.code} is a {parent.level.value}; "
                    f"a {unit.level.value}'s parent must be a {_PARENT_LEVEL[unit.level].value}"
                ),
            )


class UnitDirectory:
    """The province's administrative tree, looked up by unit code."""

    def __init__(self, units: tuple[AdministrativeUnit, ...]) -> None:
        if not units:
            raise ValueError("a unit directory needs at least the province")
        for position, field, message in _tree_problems(units, lambda p: f"unit #{p + 1}"):
            raise ValueError(f"unit #{position + 1} {field}: {message}")
        self._units = units
        self._by_code = {unit.code: unit for unit in units}

    @property
    def units(self) -> tuple[AdministrativeUnit, ...]:
        """Every unit in file order."""
        return self._units

    def __len__(self) -> int:
        return len(self._units)

    def unit(self, code: str) -> AdministrativeUnit:
        found = self._by_code.get(code)
        if found is None:
            raise UnitNotFoundError(code)
        return found

    def children(self, code: str) -> list[AdministrativeUnit]:
        parent = self.unit(code)
        return [unit for unit in self.units if unit.parent_code == parent.code]

    def units_at(self, level: AdministrativeLevel) -> list[AdministrativeUnit]:
        return [unit for unit in self.units if unit.level is level]


def _read_rows(
    text: str, columns: tuple[str, ...], fail: Callable[[int, str, str], DataFileFormatError]
) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, cells by column) for each non-blank data row, after checking
    that the header names exactly `columns` (in any order)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    expected = ",".join(columns)
    row_number = 0
    try:
        header = next(reader, None)
        row_number = 1
        if header is None:
            raise fail(1, "", f"the file is empty; its first line must be the header {expected}")
        missing = [column for column in columns if column not in header]
        unknown = [column for column in header if column not in columns]
        repeated = sorted({column for column in header if header.count(column) > 1})
        for names, what in ((missing, "missing"), (unknown, "unknown"), (repeated, "repeated")):
            if names:
                raise fail(1, ", ".join(names), f"{what} in the header; expected {expected}")
        rows: list[tuple[int, dict[str, str]]] = []
        for row_number, record in enumerate(reader, start=2):
            if row_number > ROW_COUNT_MAX + 1:
                raise fail(row_number, "", f"the file has more than {ROW_COUNT_MAX} data rows")
            if not record:
                continue  # a blank line carries no data, but it still counts as a row
            if len(record) != len(header):
                column = header[len(record)] if len(record) < len(header) else ""
                message = f"the row has {len(record)} cells, the header has {len(header)}"
                raise fail(row_number, column, message)
            rows.append((row_number, dict(zip(header, record, strict=True))))
    except csv.Error as exc:
        raise fail(row_number + 1, "", f"not valid CSV: {exc}") from exc
    if not rows:
        raise fail(2, "", "the file has a header but no data rows")
    return rows


def _optional(cells: dict[str, str], column: str) -> str | None:
    """The cell in NFC form (keyboards type Vietnamese either composed or decomposed), or None
    when it is empty."""
    value = cells[column]
    return unicodedata.normalize("NFC", value) if value else None


def _required(cells: dict[str, str], column: str) -> str:
    value = _optional(cells, column)
    if value is None:
        raise FieldRuleError(column, "the cell is empty")
    return value


def _level(cells: dict[str, str], column: str) -> AdministrativeLevel:
    value = _required(cells, column)
    try:
        return AdministrativeLevel(value)
    except ValueError:
        raise FieldRuleError(column, f"{value!r} is not one of {_LEVELS_TEXT}") from None


def _fee(cells: dict[str, str], column: str) -> int:
    """Digits only: "12.5", "1e3", "-5", "10,000" and " " are refused, never rounded or guessed."""
    value = _required(cells, column)
    if not DIGITS_PATTERN.fullmatch(value):
        raise FieldRuleError(column, f"{value!r} is not a whole number of dong")
    significant = value.lstrip("0") or "0"
    if len(significant) > len(str(FEE_MINOR_MAX)) or int(significant) > FEE_MINOR_MAX:
        raise FieldRuleError(column, f"{value} dong is above the maximum fee of 10**12")
    return int(significant)


def _date(column: str, value: str) -> date:
    """Only YYYY-MM-DD: date.fromisoformat alone would also take 20260101 and 2026-W01-1."""
    try:
        if not DATE_PATTERN.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise FieldRuleError(column, f"{value!r} is not a date written YYYY-MM-DD") from None


def _procedure_from(cells: dict[str, str]) -> Procedure:
    effective_to = _optional(cells, "effective_to")
    return Procedure(
        code=_required(cells, "procedure_code"),
        name=_required(cells, "procedure_name"),
        agency_code=_required(cells, "agency_code"),
        agency_name=_required(cells, "agency_name"),
        administrative_level=_level(cells, "administrative_level"),
        fee_base_minor=_fee(cells, "fee_base_vnd"),
        fee_per_unit_minor=_fee(cells, "fee_per_unit_vnd"),
        unit_name=_optional(cells, "unit_name"),
        effective_from=_date("effective_from", _required(cells, "effective_from")),
        effective_to=_date("effective_to", effective_to) if effective_to else None,
    )


def _unit_from(cells: dict[str, str]) -> AdministrativeUnit:
    return AdministrativeUnit(
        code=_required(cells, "unit_code"),
        name=_required(cells, "unit_name"),
        level=_level(cells, "level"),
        parent_code=_optional(cells, "parent_code"),
    )


def parse_fee_schedule(text: str, *, source: str, label: str) -> FeeSchedule:
    """The schedule in `text` (CSV with the FEE_COLUMNS header), or FeeScheduleFormatError at
    the first bad cell, numbered as a spreadsheet shows it."""

    def fail(row: int, column: str, message: str) -> FeeScheduleFormatError:
        return FeeScheduleFormatError(source, row, column, message)

    rows = _read_rows(text, FEE_COLUMNS, fail)
    procedures: list[Procedure] = []
    for row_number, cells in rows:
        try:
            procedures.append(_procedure_from(cells))
        except FieldRuleError as exc:
            column = _PROCEDURE_FIELD_COLUMNS.get(exc.field, exc.field)
            raise fail(row_number, column, exc.message) from exc
    parsed = tuple(procedures)
    pair = _first_overlap(parsed)
    if pair is not None:
        message = _overlap_message(parsed, pair, f"row {rows[pair[0]][0]}")
        raise fail(rows[pair[1]][0], "effective_from", message)
    return FeeSchedule(label, parsed)


def parse_units(text: str, *, source: str) -> UnitDirectory:
    """The unit tree in `text` (CSV with the UNIT_COLUMNS header), or UnitsFormatError at the
    first bad cell or the first unit that does not fit the tree."""

    def fail(row: int, column: str, message: str) -> UnitsFormatError:
        return UnitsFormatError(source, row, column, message)

    rows = _read_rows(text, UNIT_COLUMNS, fail)
    units: list[AdministrativeUnit] = []
    for row_number, cells in rows:
        try:
            units.append(_unit_from(cells))
        except FieldRuleError as exc:
            raise fail(
                row_number, _UNIT_FIELD_COLUMNS.get(exc.field, exc.field), exc.message
            ) from exc
    parsed = tuple(units)

    def where(position: int) -> str:
        return f"row {rows[position][0]}"

    for position, field, message in _tree_problems(parsed, where):
        raise fail(rows[position][0], _UNIT_FIELD_COLUMNS.get(field, field), message)
    return UnitDirectory(parsed)
