"""The rules every statement parser shares: the error, money, text, account and line limits.

Each format reads its own syntax, but whether an entry may become a `SettlementLine` (VND only,
a whole number of dong, a bank reference, an account in our pattern) is decided here once, so a
camt.053, an MT940 and a CSV export of the same day are judged by the same rules and worded alike.
"""

import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from schemas.events.reconciliation_v1 import SettlementLine
from schemas.money import AMOUNT_MINOR_MAX

ACCEPTED_CURRENCY = "VND"
# One import holds at most this many lines (the import service takes 2,000,000 at most too).
ENTRY_COUNT_MAX = 2_000_000
# A statement far above this is not a day's statement; refusing it early bounds memory use.
CONTENT_BYTES_MAX = 512 * 1024 * 1024
# The contract's own limits (schemas/events/reconciliation_v1.py), repeated to word errors.
BANK_REFERENCE_LENGTH_MAX = 64
END_TO_END_ID_LENGTH_MAX = 64
REMITTANCE_LENGTH_MAX = 500
COUNTERPARTY_LENGTH_MAX = 140
# Longer amount text cannot be an amount we accept; refusing it first keeps Decimal small.
AMOUNT_TEXT_LENGTH_MAX = 40
# Texts meaning "no end-to-end id" in ISO 20022 and SEPA MT940 files.
END_TO_END_ID_ABSENT = frozenset({"NOTPROVIDED", "NONREF"})

# The model's own validator, called directly: `model_validate` adds ~1.5 µs of Python per call,
# a third of the per-line cost of a million-line CSV. The validation is the same.
validate_line: Callable[[object], SettlementLine] = (
    SettlementLine.__pydantic_validator__.validate_python
)
_AMOUNT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]*)?")
_BANK_ACCOUNT = re.compile(r"[A-Z0-9][A-Z0-9\-]{3,33}")


class StatementError(ValueError):
    """A statement file that cannot be imported, with where the first problem is.

    `location` is what a finance officer needs to find the problem in the file ("line 17,
    column 'amount'", "line 12 (:61:)" or an XML path); `message` says what is wrong with it.
    """

    def __init__(self, location: str, message: str) -> None:
        super().__init__(location, message)
        self.location = location
        self.message = message

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class FieldError(ValueError):
    """One value breaks a rule; the parser that read it adds the location (StatementError)."""


def dong_from_text(text: str, shown: str | None = None) -> int:
    """Whole dong from an unsigned decimal text ("150000" or "150000.00"), exactly.

    Raises FieldError worded with `shown` (the text as the file wrote it). VND has no minor
    unit, so "1.5" is refused rather than rounded: a fraction means the file is not what we
    think it is.
    """
    shown = text if shown is None else shown
    if len(text) > AMOUNT_TEXT_LENGTH_MAX or not _AMOUNT_TEXT.fullmatch(text):
        raise FieldError(f"'{shown[:AMOUNT_TEXT_LENGTH_MAX]}' is not an amount")
    try:
        value = Decimal(text)
    except InvalidOperation:  # the pattern above should make this unreachable
        raise FieldError(f"'{shown}' is not an amount") from None
    return dong_from_decimal(value, shown)


def dong_from_decimal(value: Decimal, shown: str) -> int:
    """Whole, positive dong within AMOUNT_MINOR_MAX from an unsigned Decimal; FieldError if not."""
    if not value.is_finite() or value.adjusted() > len(str(AMOUNT_MINOR_MAX)):
        raise FieldError(f"'{shown}' is not an amount we accept")
    if value != value.to_integral_value():
        raise FieldError(f"'{shown}' is not a whole number of dong")
    return dong_checked(int(value), shown)


def dong_checked(dong: int, shown: str) -> int:
    """The amount if it is above zero and at most AMOUNT_MINOR_MAX; FieldError if not."""
    if dong <= 0:
        raise FieldError(f"'{shown}' is not above zero")
    if dong > AMOUNT_MINOR_MAX:
        raise FieldError(f"'{shown}' is above the largest accepted amount ({AMOUNT_MINOR_MAX})")
    return dong


def check_currency(currency: str | None) -> None:
    """FieldError unless the currency is VND: the province's accounts are all in dong."""
    if currency != ACCEPTED_CURRENCY:
        raise FieldError(f"currency {currency or '(none)'} is not {ACCEPTED_CURRENCY}")


def bank_account(raw: str) -> str:
    """An account number as the contract stores it: upper case, no spaces; FieldError if odd."""
    account = "".join(raw.split()).upper()
    if not _BANK_ACCOUNT.fullmatch(account):
        raise FieldError(
            f"'{raw[:40]}' is not a bank account number (4 to 34 letters, digits or '-')"
        )
    return account


def bank_reference(raw: str | None) -> str:
    """The bank's own reference for an entry, stripped; FieldError when missing or too long."""
    reference = (raw or "").strip()
    if not reference:
        raise FieldError("no bank reference")
    if len(reference) > BANK_REFERENCE_LENGTH_MAX:
        raise FieldError(
            f"bank reference '{reference[:40]}…' is longer than {BANK_REFERENCE_LENGTH_MAX}"
        )
    return reference


def end_to_end_id(raw: str | None) -> str | None:
    """The payer's end-to-end id, or None when absent or a "not provided" placeholder."""
    value = (raw or "").strip()
    if not value or value.upper() in END_TO_END_ID_ABSENT:
        return None
    if len(value) > END_TO_END_ID_LENGTH_MAX:
        raise FieldError(f"end-to-end id '{value[:40]}…' is longer than {END_TO_END_ID_LENGTH_MAX}")
    return value


def free_text(raw: str | None, length_max: int) -> str | None:
    """Descriptive text with whitespace collapsed, in NFC, cut to `length_max`; None if empty.

    NFC because Vietnamese diacritics arrive both precomposed and decomposed, and matching
    compares text. Cutting (not refusing) because a memo is descriptive: a long one must not
    stop a day's import; the money and the references are never cut. The checks before each
    rewrite keep the common case (already clean text) cheap for million-line files.
    """
    if not raw:
        return None
    text = raw
    if not text.isprintable() or "  " in text or text[0] == " " or text[-1] == " ":
        text = " ".join(text.split())
        if not text:
            return None
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text if len(text) <= length_max else text[:length_max]


def refused_line(exc: ValidationError, location: str) -> StatementError:
    """The contract's refusal of a line, worded as a StatementError at the entry.

    The parsers check every field first, so a refusal here means a rule was missed: it is
    still reported with the entry's location instead of escaping as a pydantic error.
    """
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return StatementError(location, f"{where}: {first['msg']}")


def line_or_error(fields: dict[str, object], location: str) -> SettlementLine:
    """Validate one line against the contract; a refusal becomes a StatementError there."""
    try:
        return validate_line(fields)
    except ValidationError as exc:
        raise refused_line(exc, location) from None


def check_entry_count(count: int, location: str) -> None:
    """StatementError once a file holds more entries than one import may."""
    if count > ENTRY_COUNT_MAX:
        raise StatementError(location, f"more than {ENTRY_COUNT_MAX} entries in one file")
