"""Loads the reconciliation's reference data: matching rules versions and the holiday calendar.

Both ship as data files in `reconciliation/data/`; FEES_RECON_RULES_FILE / _HOLIDAYS_FILE can
point elsewhere (a province's own routes and accounts). Errors name the file and the row.
"""

import csv
import io
from datetime import date
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from reconciliation.domain.calendar import BankingCalendar
from reconciliation.domain.errors import RulesError
from reconciliation.domain.rules import RulesBook

HOLIDAY_ROWS_MAX = 10_000


def _read(path: Path | None, default_name: str) -> tuple[str, str]:
    if path is not None:
        return path.read_text(encoding="utf-8"), str(path)
    resource = resources.files("reconciliation.data").joinpath(default_name)
    return resource.read_text(encoding="utf-8"), f"reconciliation/data/{default_name}"


def load_rules_book(path: Path | None = None) -> RulesBook:
    text, name = _read(path, "matching_rules.json")
    try:
        return RulesBook.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RulesError(f"{name}: {where}: {first['msg']}") from error


def load_calendar(path: Path | None = None) -> BankingCalendar:
    text, name = _read(path, "holidays_vn.csv")
    days: list[date] = []
    reader = csv.DictReader(io.StringIO(text))
    for line_no, row in enumerate(reader, start=2):
        if line_no > HOLIDAY_ROWS_MAX:
            raise RulesError(f"{name}: more than {HOLIDAY_ROWS_MAX} rows")
        try:
            days.append(date.fromisoformat(row["date"]))
        except (KeyError, TypeError, ValueError) as error:
            raise RulesError(f"{name}: line {line_no}, column 'date': {error}") from error
    return BankingCalendar.from_holidays(days)
