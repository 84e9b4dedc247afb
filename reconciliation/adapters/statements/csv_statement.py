"""Reads a bank's CSV export through its CsvMapping, fast enough for a million lines.

Why it looks the way it does: a benchmark imports 1,000,000 lines and matches them within 20 s
on two cores, so the per-row work is list indexing, dict look-ups and `int()`. Columns are
resolved to indexes once from the header; dates and accounts are parsed once per distinct text
(a day's export has a handful of each); amounts written as plain digits skip Decimal; and the
garbage collector is paused while lines are built (see events/gc_pause.py). Every line
is still validated by the SettlementLine model. Locations are physical line numbers counting
the header, so "line 17" is what a spreadsheet or an editor shows.
"""

import _csv
import csv
import io
import itertools
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import ValidationError

from events.gc_pause import collector_paused
from reconciliation.adapters.statements.common import (
    BANK_REFERENCE_LENGTH_MAX,
    COUNTERPARTY_LENGTH_MAX,
    END_TO_END_ID_LENGTH_MAX,
    ENTRY_COUNT_MAX,
    REMITTANCE_LENGTH_MAX,
    FieldError,
    StatementError,
    bank_account,
    bank_reference,
    check_entry_count,
    dong_checked,
    dong_from_text,
    end_to_end_id,
    free_text,
    refused_line,
    validate_line,
)
from reconciliation.adapters.statements.csv_mapping import OPTIONAL_COLUMNS, CsvMapping, header_key
from schemas.events.reconciliation_v1 import Direction, SettlementLine
from schemas.money import AMOUNT_MINOR_MAX

DATE_CACHE_MAX = 10_000  # distinct date texts remembered; a day's export has a handful
ACCOUNT_CACHE_MAX = 1_000
COUNTERPARTY_CACHE_MAX = 10_000
PLAIN_DIGITS_MAX = 18  # up to this many plain digits fit a machine int; longer goes the slow way
SAMPLE_DAY = date(2026, 11, 24)  # shown in date errors, formatted the way the mapping expects


@dataclass(frozen=True)
class _Layout:
    """The mapping resolved against one file's header: each field's column index, or None."""

    headers: tuple[str, ...]
    bank_account: int | None
    booking_date: int
    value_date: int | None
    amount: int | None
    direction: int | None
    credit: int | None
    debit: int | None
    bank_reference: int
    end_to_end_id: int | None
    remittance_info: int | None
    counterparty: int | None


def _layout(header: list[str], mapping: CsvMapping, line: int) -> _Layout:
    keys = [header_key(cell) for cell in header]
    indexes: dict[str, int | None] = {}
    for field_name, wanted in mapping.columns.model_dump().items():
        if wanted is None:
            indexes[field_name] = None
            continue
        found = [index for index, key in enumerate(keys) if key == header_key(wanted)]
        if len(found) > 1:
            raise StatementError(f"line {line}", f"column '{wanted}' appears {len(found)} times")
        if not found and field_name not in OPTIONAL_COLUMNS:
            raise StatementError(f"line {line}", f"no column '{wanted}' (needed for {field_name})")
        indexes[field_name] = found[0] if found else None
    booking_date, reference = indexes.pop("booking_date"), indexes.pop("bank_reference")
    if booking_date is None or reference is None:  # required above; this satisfies the types
        raise StatementError(f"line {line}", "no booking date or bank reference column")
    return _Layout(tuple(header), booking_date=booking_date, bank_reference=reference, **indexes)


class _MoneyError(FieldError):
    """A money cell's problem, carrying its own column (money spans two columns)."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(message)
        self.column = column


class _RowReader:
    """Turns data rows into lines for one file: the layout, caches and markers it needs."""

    def __init__(self, mapping: CsvMapping, layout: _Layout) -> None:
        self.mapping = mapping
        self.layout = layout
        self.width = len(layout.headers)
        self.dates: dict[str, date] = {}
        self.accounts: dict[str, str] = {}
        self.counterparties: dict[str, str | None] = {}
        # Markers as written and case-folded: the first look-up usually hits.
        self.markers: dict[str, Direction] = {}
        for markers, direction in (
            (mapping.credit_markers, Direction.CREDIT),
            (mapping.debit_markers, Direction.DEBIT),
        ):
            self.markers.update({m: direction for m in markers})
            self.markers.update({m.casefold(): direction for m in markers})
        self.fixed_account = mapping.bank_account
        self.decimal = mapping.decimal_separator
        self.thousands = mapping.thousands_separator

    def line(self, row: list[str], start: int, line_no: int) -> SettlementLine:
        """One data row (starting on physical line `start`) as a validated SettlementLine.

        Written for speed: caches are read inline and the slow helpers run only on a miss
        or a suspicious value. `column` follows the cell being read, to name it in errors.
        """
        location = f"line {start}"
        if len(row) != self.width:
            raise StatementError(location, f"{len(row)} cells where the header has {self.width}")
        layout, dates, column = self.layout, self.dates, None
        try:
            column = layout.booking_date
            booking_date = dates.get(row[column]) or self._date(row[column])
            column, value_date = layout.value_date, booking_date
            if column is not None and row[column]:
                value_date = dates.get(row[column]) or self._date(row[column])
            column, account = layout.bank_account, self.fixed_account
            if column is not None:
                account = self.accounts.get(row[column]) or self._account(row[column])
            column = layout.bank_reference
            reference = row[column].strip()
            if not reference or len(reference) > BANK_REFERENCE_LENGTH_MAX:
                reference = bank_reference(reference)
            column, end_to_end = layout.end_to_end_id, None
            if column is not None and row[column]:
                end_to_end = self._end_to_end(row[column])
            column = None  # money errors name their own column, or none for a row-level rule
            amount_minor, direction = self._money(row)
        except FieldError as exc:
            column = exc.column if isinstance(exc, _MoneyError) else column
            if column is None:
                raise StatementError(location, str(exc)) from None
            header = self.layout.headers[column]
            raise StatementError(f"{location}, column '{header}'", str(exc)) from None
        remittance, counterparty = layout.remittance_info, layout.counterparty
        fields: dict[str, object] = {
            "line_no": line_no,
            "location": location,
            "bank_account": account,
            "booking_date": booking_date,
            "value_date": value_date,
            "amount_minor": amount_minor,
            "direction": direction,
            "bank_reference": reference,
            "end_to_end_id": end_to_end,
            "remittance_info": (
                None if remittance is None else free_text(row[remittance], REMITTANCE_LENGTH_MAX)
            ),
            "counterparty": None if counterparty is None else self._counterparty(row[counterparty]),
        }
        try:
            return validate_line(fields)
        except ValidationError as exc:
            raise refused_line(exc, location) from None

    def _date(self, text: str) -> date:
        known = self.dates.get(text)
        if known is not None:
            return known
        try:
            parsed = datetime.strptime(text.strip(), self.mapping.date_format).date()
        except ValueError:
            example = SAMPLE_DAY.strftime(self.mapping.date_format)
            raise FieldError(f"'{text}' is not a date like '{example}'") from None
        if len(self.dates) < DATE_CACHE_MAX:
            self.dates[text] = parsed
        return parsed

    @staticmethod
    def _end_to_end(text: str) -> str | None:
        """The id as written when it plainly is one (the common case); else the full rule."""
        plain = len(text) <= END_TO_END_ID_LENGTH_MAX and text[0] not in "Nn"
        if plain and not text[0].isspace() and not text[-1].isspace():
            return text  # not blank-padded, and no "NOTPROVIDED"/"NONREF" placeholder
        return end_to_end_id(text)

    def _counterparty(self, text: str) -> str | None:
        """Cleaned counterparty names, remembered: a day's file repeats the same few payers."""
        known = self.counterparties.get(text, "")
        if known != "":
            return known
        cleaned = free_text(text, COUNTERPARTY_LENGTH_MAX)
        if len(self.counterparties) < COUNTERPARTY_CACHE_MAX:
            self.counterparties[text] = cleaned
        return cleaned

    def _account(self, text: str) -> str:
        known = self.accounts.get(text)
        if known is None:
            known = bank_account(text)
            if len(self.accounts) < ACCOUNT_CACHE_MAX:
                self.accounts[text] = known
        return known

    def _money(self, row: list[str]) -> tuple[int, Direction]:
        """Amount and direction in whichever of the three layouts the mapping uses."""
        layout = self.layout
        column = layout.amount
        if column is None:
            return self._split_columns(row)
        text = row[column].strip()
        if layout.direction is None:
            if text[:1] == "-":
                return self._dong(text[1:], column, shown=text), Direction.DEBIT
            return self._dong(text.removeprefix("+"), column, shown=text), Direction.CREDIT
        marker = row[layout.direction]
        direction = self.markers.get(marker) or self.markers.get(marker.strip().casefold())
        if direction is None:
            raise _MoneyError(layout.direction, f"'{marker}' is not a credit or debit marker")
        if text.isascii() and text.isdigit() and len(text) <= PLAIN_DIGITS_MAX:
            value = int(text)  # the common case, inline: plain digits need no Decimal
            if 0 < value <= AMOUNT_MINOR_MAX:
                return value, direction
        return self._dong(text, column, shown=text), direction

    def _split_columns(self, row: list[str]) -> tuple[int, Direction]:
        credit_column, debit_column = self.layout.credit, self.layout.debit
        if credit_column is None or debit_column is None:  # the mapping guarantees both
            raise FieldError("the mapping has neither an amount nor credit and debit columns")
        credit = self._optional_dong(row[credit_column].strip(), credit_column)
        debit = self._optional_dong(row[debit_column].strip(), debit_column)
        if credit and debit:
            raise FieldError("both the credit and the debit column hold an amount")
        if not credit and not debit:
            raise FieldError("neither the credit nor the debit column holds an amount")
        return (credit, Direction.CREDIT) if credit else (debit, Direction.DEBIT)

    def _optional_dong(self, text: str, column: int) -> int:
        """An amount where an empty cell, "-" or a zero means "none": 0 for none."""
        if not text or text == "-" or text.strip("0") in ("", self.decimal):
            return 0
        return self._dong(text, column, shown=text)

    def _dong(self, text: str, column: int, shown: str) -> int:
        try:
            if text.isascii() and text.isdigit() and len(text) <= PLAIN_DIGITS_MAX:
                return dong_checked(int(text), shown)
            return dong_from_text(self._plain_decimal(text, shown), shown)
        except FieldError as exc:
            raise _MoneyError(column, str(exc)) from None

    def _plain_decimal(self, text: str, shown: str) -> str:
        """Amount text in the mapping's style ("1.500.000,00") as plain decimal ("1500000.00").

        Thousands groups are checked because "1.5" read with "." as the thousands separator
        would otherwise quietly become 15 dong.
        """
        integer, separator, fraction = text.partition(self.decimal)
        if self.thousands and self.thousands in integer:
            groups = integer.split(self.thousands)
            if not 1 <= len(groups[0]) <= 3 or any(len(group) != 3 for group in groups[1:]):
                raise FieldError(f"'{shown}' has misplaced '{self.thousands}' separators")
            integer = "".join(groups)
        return f"{integer}.{fraction}" if separator else integer


def _decode(content: bytes, encoding: str) -> str:
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise StatementError(f"line {line}", f"not {encoding} text") from None


def _reader(text: str, mapping: CsvMapping) -> "_csv.Reader":
    return csv.reader(
        io.StringIO(text, newline=""),
        delimiter=mapping.delimiter,
        quotechar=mapping.quote_char,
        strict=True,
    )


def _header(reader: _csv.Reader, mapping: CsvMapping) -> list[str]:
    """The header row: the record that ends on the mapping's header line."""
    for row in reader:
        if reader.line_num >= mapping.header_line:
            return row
    raise StatementError(f"line {mapping.header_line}", "no header row")


def parse_csv(content: bytes, mapping: CsvMapping, lines_skipped: int = 0) -> list[SettlementLine]:
    """Every data row of a CSV export, in file order; blank rows are skipped. `lines_skipped`
    is for a piece of a file (`csv_pieces`): the physical lines cut out after its header,
    so that locations are the whole file's."""
    reader = _reader(_decode(content, mapping.encoding), mapping)
    lines: list[SettlementLine] = []
    previous_end = 0  # last physical line of the previous record
    try:
        header = _header(reader, mapping)
        rows = _RowReader(mapping, _layout(header, mapping, reader.line_num))
        previous_end = reader.line_num + lines_skipped
        with collector_paused():
            for row in reader:
                start, previous_end = previous_end + 1, reader.line_num + lines_skipped
                if not any(row):
                    continue
                if len(lines) >= ENTRY_COUNT_MAX:
                    check_entry_count(len(lines) + 1, f"line {start}")
                lines.append(rows.line(row, start, len(lines) + 1))
    except csv.Error as exc:
        # A record that breaks the CSV rules is reported where it starts (an unclosed quote
        # is only noticed at the end of the file).
        raise StatementError(f"line {previous_end + 1}", f"not valid CSV ({exc})") from None
    return lines


def csv_pieces(content: bytes, mapping: CsvMapping, count: int) -> list[tuple[bytes, int]]:
    """The file as up to `count` pieces that parse as it does, each with the physical lines it
    skips after its header (parse_csv's `lines_skipped`): the file's head (up to and including
    the header record) followed by a run of whole records. A cut is made only at a line end
    with an even number of quote characters before it, so never inside a quoted cell. Only for
    encodings that write a line end and the quote character as their ASCII bytes (UTF-8 with or
    without a byte order mark, the Windows code pages); otherwise (and when no cut is found)
    the whole file is the one piece.
    """
    newline = _written_as_ascii("\n", mapping.encoding)
    quote = _written_as_ascii(mapping.quote_char, mapping.encoding)
    if newline is None or quote is None:
        return [(content, 0)]
    ends = _RecordEnds(content, quote)
    head_end = 0
    for _ in range(mapping.header_line):
        head_end = ends.after(head_end)
    head, cuts = content[:head_end], [head_end]
    if not _holds_only_the_header(head, mapping):
        return [(content, 0)]
    for piece in range(1, count):
        aim = head_end + (len(content) - head_end) * piece // count
        cut = ends.after(max(aim, cuts[-1]))
        if cut >= len(content):
            break
        cuts.append(cut)
    cuts.append(len(content))
    pieces, lines_skipped = [], 0
    for start, end in itertools.pairwise(cuts):
        pieces.append((content if len(cuts) == 2 else head + content[start:end], lines_skipped))
        lines_skipped += content.count(b"\n", start, end)
    return pieces


def _written_as_ascii(char: str, encoding: str) -> bytes | None:
    """`char`'s one ASCII byte, if that is how `encoding` writes it after other text (a byte
    order mark, as utf-8-sig writes first, is not part of it); None otherwise (UTF-16, say)."""
    try:
        written = ("x" + char).encode(encoding)[len("x".encode(encoding)) :]
    except UnicodeEncodeError:
        return None
    return written if char.isascii() and written == char.encode("ascii") else None


def _holds_only_the_header(head: bytes, mapping: CsvMapping) -> bool:
    """Whether the head read as CSV ends exactly with the header record, as parse_csv reads it
    (a bare carriage return, say, ends a record there but is no cut here)."""
    try:
        reader = _reader(head.decode(mapping.encoding), mapping)
        _header(reader, mapping)
        return next(reader, None) is None
    except (UnicodeDecodeError, StatementError, csv.Error):
        return False


class _RecordEnds:
    """Finds line ends outside quotes, keeping count of the quotes seen so far (in one pass
    over the file, however many cuts are asked for, as long as they move forward)."""

    def __init__(self, content: bytes, quote: bytes) -> None:
        self.content, self.quote = content, quote
        self.counted_to, self.quotes_odd = 0, False

    def after(self, position: int) -> int:
        """The offset just past the first line end at or after `position` outside quotes; the
        file's length when there is none."""
        content = self.content
        while True:
            newline = content.find(b"\n", position)
            if newline < 0:
                return len(content)
            end = newline + 1
            seen = content.count(self.quote, self.counted_to, end)
            self.counted_to, self.quotes_odd = end, self.quotes_odd ^ (seen % 2 == 1)
            if not self.quotes_odd:
                return end
            position = end
