"""How one bank's CSV export maps onto a SettlementLine, and loading those mappings from JSON.

Vietnamese banks export statements from their internet banking with their own headers,
separators and date styles, and change them now and then. Keeping each layout as data
(`reconciliation/data/bank_mappings.json`, or a province's own file) means a new export layout
is a configuration change reviewed like one, not a code change.
"""

import codecs
import json
import unicodedata
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.events.reconciliation_v1 import BankAccount

MAPPINGS_FILE_NAME = "bank_mappings.json"
MAPPINGS_MAX = 200
MARKERS_MAX = 20
HEADER_LINE_MAX = 50  # an export's header is near the top; a search past this is a wrong file
GENERIC_MAPPING = "generic"

MappingName = Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,40}$")]
HeaderName = Annotated[str, Field(min_length=1, max_length=120)]
Marker = Annotated[str, Field(min_length=1, max_length=40)]


def header_key(text: str) -> str:
    """Headers compared ignoring case, spacing and Unicode form ("Số  Tiền" = "số tiền")."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def _reads_back(date_format: str) -> bool:
    """Whether a day written in the format reads back as the same day (a year, month, day)."""
    day = date(2026, 11, 24)
    try:
        return datetime.strptime(day.strftime(date_format), date_format).date() == day
    except ValueError:
        return False


class CsvColumns(BaseModel):
    """The header of the column holding each field; None where the export has no such column.

    The amount is read in one of three ways: one signed `amount` (negative = debit); an
    unsigned `amount` plus a `direction` column holding the mapping's credit/debit markers; or
    separate `credit` and `debit` columns, exactly one of them filled on each row.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bank_account: HeaderName | None = None
    booking_date: HeaderName
    value_date: HeaderName | None = None
    amount: HeaderName | None = None
    direction: HeaderName | None = None
    credit: HeaderName | None = None
    debit: HeaderName | None = None
    bank_reference: HeaderName
    end_to_end_id: HeaderName | None = None
    remittance_info: HeaderName | None = None
    counterparty: HeaderName | None = None


# Columns a file may lack even though the mapping names them: the line just has no such value.
OPTIONAL_COLUMNS = ("value_date", "end_to_end_id", "remittance_info", "counterparty")


class CsvMapping(BaseModel):
    """One bank's CSV layout: text encoding, separators, date style and the column headers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: MappingName
    description: Annotated[str, Field(max_length=300)] = ""
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    quote_char: Annotated[str, Field(min_length=1, max_length=1)] = '"'
    encoding: Annotated[str, Field(min_length=1, max_length=40)] = "utf-8-sig"
    header_line: Annotated[int, Field(ge=1, le=HEADER_LINE_MAX)] = 1
    date_format: Annotated[str, Field(min_length=2, max_length=40)] = "%Y-%m-%d"
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal["", ".", ",", " "] = ""
    # A fixed account for exports that print it above the table instead of in a column.
    bank_account: BankAccount | None = None
    columns: CsvColumns
    credit_markers: Annotated[tuple[Marker, ...], Field(max_length=MARKERS_MAX)] = ()
    debit_markers: Annotated[tuple[Marker, ...], Field(max_length=MARKERS_MAX)] = ()

    @model_validator(mode="after")
    def _layout_is_complete(self) -> Self:
        columns = self.columns
        if (columns.bank_account is None) == (self.bank_account is None):
            raise ValueError("give either a bank_account column or a fixed bank_account")
        split = columns.credit is not None or columns.debit is not None
        if split and (columns.credit is None or columns.debit is None or columns.amount):
            raise ValueError("credit and debit columns come together and without amount")
        if not split and columns.amount is None:
            raise ValueError("give an amount column or credit and debit columns")
        has_direction = columns.direction is not None
        if has_direction != bool(self.credit_markers or self.debit_markers):
            raise ValueError("a direction column and credit/debit markers come together")
        if has_direction and (split or not self.credit_markers or not self.debit_markers):
            raise ValueError("a direction column needs an amount column and both kinds of marker")
        credit = {marker.casefold() for marker in self.credit_markers}
        if credit & {marker.casefold() for marker in self.debit_markers}:
            raise ValueError("a marker cannot mean both credit and debit")
        if self.thousands_separator == self.decimal_separator:
            raise ValueError("the thousands and decimal separators must differ")
        headers = [header_key(h) for h in columns.model_dump().values() if h is not None]
        if len(headers) != len(set(headers)):
            raise ValueError("one column header is mapped to two fields")
        if not _reads_back(self.date_format):
            raise ValueError(f"date_format '{self.date_format}' cannot write and read back a day")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding '{self.encoding}'") from None
        return self


def load_csv_mappings(path: Path | None = None) -> dict[str, CsvMapping]:
    """The mappings of a JSON file (default: the packaged bank_mappings.json), by name.

    The file is {"mappings": [...]}. A bad mapping is a configuration error: it raises
    ValueError naming the file and the mapping, at start-up rather than at the first import.
    """
    if path is None:
        resource = resources.files("reconciliation.data").joinpath(MAPPINGS_FILE_NAME)
        text, source = resource.read_text(encoding="utf-8"), f"reconciliation.data/{resource.name}"
    else:
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON ({exc})") from None
    entries = document.get("mappings") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAPPINGS_MAX:
        raise ValueError(f'{source}: expected {{"mappings": [1 to {MAPPINGS_MAX} mappings]}}')
    mappings: dict[str, CsvMapping] = {}
    for number, entry in enumerate(entries, 1):
        try:
            mapping = CsvMapping.model_validate(entry)
        except ValidationError as exc:
            raise ValueError(f"{source}: mapping {number}: {exc}") from None
        if mapping.name in mappings:
            raise ValueError(f"{source}: mapping {number}: name '{mapping.name}' is used twice")
        mappings[mapping.name] = mapping
    return mappings
