"""Reads the fee schedule and administrative units shipped in payments/data.

The only I/O behind payments.domain.fee_schedule: the parsers there stay pure, and this module
just hands them the packaged text, so the data travels with the code that prices from it.
"""

from importlib import resources

from payments.domain.fee_schedule import (
    FeeSchedule,
    UnitDirectory,
    parse_fee_schedule,
    parse_units,
)

DATA_PACKAGE = "payments.data"
FEE_SCHEDULE_FILE_NAME = "fee_schedule.csv"
UNITS_FILE_NAME = "units.csv"
SAMPLE_SCHEDULE_LABEL = "2026.1"


def read_packaged_text(file_name: str) -> str:
    """One packaged data file as text; a missing file is a packaging bug and crashes."""
    return resources.files(DATA_PACKAGE).joinpath(file_name).read_text(encoding="utf-8")


def load_fee_schedule(label: str = SAMPLE_SCHEDULE_LABEL) -> FeeSchedule:
    """The shipped schedule. Its version is the label plus a digest of the rows, so a payment
    priced with it can be re-priced later only from byte-for-byte the same data."""
    text = read_packaged_text(FEE_SCHEDULE_FILE_NAME)
    return parse_fee_schedule(text, source=FEE_SCHEDULE_FILE_NAME, label=label)


def load_units() -> UnitDirectory:
    """The shipped province, district and commune tree."""
    return parse_units(read_packaged_text(UNITS_FILE_NAME), source=UNITS_FILE_NAME)
