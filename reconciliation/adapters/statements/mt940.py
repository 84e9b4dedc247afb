"""Reads SWIFT MT940 customer statements with the maintained `mt-940` library (import `mt940`).

Why the library is wrapped the way it is:
- It parses tags but does not say where they were. A `Transactions` subclass notes each tag's
  text line as the library processes it (the library drops blank lines and lone "-" separators
  first, so its lines are mapped back to the file's), so lines and errors say "line 12 (:61:)".
- Every :61: starts its own entry. The library merges a :61: into the previous one when that one
  had no transaction type code, which would silently lose an entry.
- Each statement is checked whole: it starts with :20:, names its account (:25:), opens
  (:60F:/:60M:) and closes (:62F:/:62M:) in VND, and opening + credits - debits = closing. A
  file cut short fails that check instead of importing part of a day.
- In :61: the first date is the VALUE date; the optional MMDD after it is the booking (entry)
  date. Marks: C credit, D debit, RD (a debit reversed: money back in) credit, RC debit.
- The text is decoded here as UTF-8 (never guessed) and handed to the library as text, not via
  `mt940.parse`, which would read a file if the text happened to name one.

The subclass overrides two underscore methods of `mt940.models.Transactions`
(`_process_match`, `_process_statement_tag`), which is why mt-940 is pinned to 5.1.*; the tests
on the library's own sample files fail first if an upgrade changes them.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from mt940.models import Amount, Balance, Transaction, Transactions
from mt940.options import Options
from mt940.processors import transaction_details_post_processor

from reconciliation.adapters.statements.common import (
    COUNTERPARTY_LENGTH_MAX,
    REMITTANCE_LENGTH_MAX,
    FieldError,
    StatementError,
    bank_account,
    bank_reference,
    check_currency,
    check_entry_count,
    dong_from_decimal,
    end_to_end_id,
    free_text,
    line_or_error,
)
from schemas.events.reconciliation_v1 import Direction, SettlementLine

# Every fix of the 5.x line switched on; each name says what it changes.
LIBRARY_OPTIONS = Options(
    applicant_iban=True,  # ?31 is the payer's account, not the start of its name
    merge_keeps_values=True,
    reversal_sign=True,
    case_insensitive_marks=True,
    timezone_offset=True,
    unbounded_details=True,  # keep all of :86:; free_text cuts it visibly at 500 characters
    non_swift_free_text=True,
    floor_limit_blank_mark=True,
    strip_bom=True,
    gvc_leading_text=True,
)
MARKS = {"C": Direction.CREDIT, "D": Direction.DEBIT, "RD": Direction.CREDIT, "RC": Direction.DEBIT}
# Where the library files each balance tag in `Transactions.data`.
OPENING_KEYS = {
    "60F": "final_opening_balance",
    "60M": "intermediate_opening_balance",
    "60": "opening_balance",
}
CLOSING_KEYS = {
    "62F": "final_closing_balance",
    "62M": "intermediate_closing_balance",
    "62": "closing_balance",
}
# What the library raises on a tag it cannot read (a pattern miss, a bad date, a bad number).
LIBRARY_ERRORS = (RuntimeError, ValueError, ArithmeticError, LookupError, TypeError, AttributeError)
ABSENT_REFERENCE = "NONREF"
SWIFT_LINE_LENGTH = 65  # a full :86: line was wrapped mid-text; a shorter one ended a word
# In a free-text :86: an end-to-end id is one token after EREF+ (or between /EREF/ and /); a
# name after NAME+ runs to the next SEPA keyword ("SVWZ+"...) or the end (or /NAME/.../).
_EREF = re.compile(r"EREF\+\s*(\S+)|/EREF/([^/]+)")
_NAME = re.compile(r"NAME\+\s*(.+?)(?=\s+[A-Z]{4}\+|$)|/NAME/([^/]+)")


@dataclass
class _Entry:
    line: int
    fields: dict[str, Any]  # the library's :61: fields, copied when the tag was read
    details: dict[str, Any] | None = None  # its :86: fields, when :86: follows it


@dataclass
class _Statement:
    line: int  # of :20:
    account: tuple[int, str] | None = None  # line of :25:, its text
    opening: tuple[int, str, Balance] | None = None  # line, tag, balance
    closing: tuple[int, str, Balance] | None = None
    entries: list[_Entry] = field(default_factory=list)


def _keep_raw_details(
    transactions: Transactions, tag: object, tag_dict: dict[str, Any], *args: object
) -> dict[str, Any]:
    """Keep :86: as written: the library replaces structured (?20…) details by their parts."""
    tag_dict["details_raw"] = tag_dict.get("transaction_details")
    return tag_dict


class _LocatedTransactions(Transactions):
    """The library's collection, noting each tag's file line and grouping tags by statement."""

    def __init__(self, kept_lines: list[int]) -> None:
        processors: dict[str, list[Callable[..., dict[str, Any]]]] = {
            "pre_transaction_details": [_keep_raw_details],
            "post_transaction_details": [transaction_details_post_processor],
        }
        super().__init__(processors=processors, options=LIBRARY_OPTIONS)
        self.kept_lines = kept_lines  # file line number of each line the library keeps
        self.statements: list[_Statement] = []
        self.previous_tag = ""
        self._cursor = (0, 0)  # text offset and kept-line index of the previous tag

    def _line_of(self, data: str, offset: int) -> int:
        last_offset, index = self._cursor
        index += data.count("\n", last_offset, offset)
        self._cursor = (offset, index)
        return self.kept_lines[index]

    def _process_match(
        self, match: re.Match[str], i: int, valid_matches: list[re.Match[str]], data: str
    ) -> None:
        tag = match.group("full_tag").upper()
        line = self._line_of(data, match.start())
        try:
            super()._process_match(match, i, valid_matches, data)
        except LIBRARY_ERRORS as exc:
            raise StatementError(f"line {line} (:{tag}:)", _library_message(exc, tag)) from None
        self._note(tag, line)
        self.previous_tag = tag

    def _process_statement_tag(self, result: dict[str, Any]) -> None:
        self.transactions.append(Transaction(self, result))

    def _note(self, tag: str, line: int) -> None:
        if tag == "20":
            self.statements.append(_Statement(line))
            return
        if not self.statements:
            raise StatementError(f"line {line} (:{tag}:)", "a statement must start with :20:")
        statement = self.statements[-1]
        if tag == "25":
            statement.account = (line, str(self.data.get("account_identification") or ""))
        elif tag in OPENING_KEYS and statement.opening is None:
            statement.opening = (line, tag, self.data[OPENING_KEYS[tag]])
        elif tag in CLOSING_KEYS:
            statement.closing = (line, tag, self.data[CLOSING_KEYS[tag]])
        elif tag == "61":
            check_entry_count(len(self.transactions), f"line {line} (:61:)")
            statement.entries.append(_Entry(line, dict(self.transactions[-1].data)))
        elif tag == "86" and self.previous_tag == "61":
            statement.entries[-1].details = dict(self.transactions[-1].data)


def _library_message(exc: BaseException, tag: str) -> str:
    """The library's complaint in words for a finance officer (not its regex or objects)."""
    arguments = exc.args
    if isinstance(exc, RuntimeError) and len(arguments) == 3 and isinstance(arguments[2], str):
        return f"'{arguments[2][:60]}' does not fit the layout of :{tag}:"
    text = str(arguments[0]) if arguments else type(exc).__name__
    return f"cannot be read ({text[:160]})"


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise StatementError(f"line {line}", "not UTF-8 text") from None


def _read(text: str) -> tuple[list[_Statement], StatementError | None]:
    """The statements the library read, and the error that stopped it, if one did."""
    kept = [number for number, raw in enumerate(text.split("\n"), 1) if Transactions.strip([raw])]
    transactions = _LocatedTransactions(kept)
    try:
        transactions.parse(text)
    except StatementError as exc:
        return transactions.statements, exc
    return transactions.statements, None


def _unwrap(details: str) -> str:
    """:86: lines joined: straight on after a full 65-character line, with a space otherwise."""
    parts = details.split("\n")
    joined = [parts[0]]
    for previous, part in pairwise(parts):
        joined.append(part if len(previous) >= SWIFT_LINE_LENGTH else f" {part}")
    return "".join(joined)


def _descriptions(entry: _Entry, reference: str) -> tuple[str | None, str | None, str | None]:
    """End-to-end id, remittance text and counterparty of a :61: and the :86: after it.

    The end-to-end id is EREF of a structured :86:, else an EREF+ or /EREF/ in its text, else
    the :61: customer reference when the bank reference is something else: for a credit that
    is the payer's own reference, which is what matching looks for.
    """
    details = entry.details or {}
    raw = details.get("details_raw")
    remittance = _unwrap(raw) if isinstance(raw, str) else None
    end_to_end = details.get("end_to_end_reference")
    if not end_to_end and remittance:
        found = _EREF.search(remittance)
        end_to_end = (found.group(1) or found.group(2)) if found else None
    if not end_to_end:
        customer = str(entry.fields.get("customer_reference") or "").strip()
        end_to_end = customer if customer != reference else None
    name = details.get("applicant_name")
    if not name and remittance:
        found = _NAME.search(remittance)
        name = (found.group(1) or found.group(2)) if found else None
    counterparty = free_text(name if isinstance(name, str) else None, COUNTERPARTY_LENGTH_MAX)
    try:
        end_to_end_text = end_to_end_id(end_to_end if isinstance(end_to_end, str) else None)
    except FieldError as exc:
        raise StatementError(f"line {entry.line} (:61:)", str(exc)) from None
    return end_to_end_text, free_text(remittance, REMITTANCE_LENGTH_MAX), counterparty


def _plain_date(value: object) -> date | None:
    """The library's Date subclass as a plain date (the contract stores plain dates)."""
    return date(value.year, value.month, value.day) if isinstance(value, date) else None


def _reference(fields: dict[str, Any]) -> str:
    bank = str(fields.get("bank_reference") or "").strip()
    customer = str(fields.get("customer_reference") or "").strip()
    if customer.upper() == ABSENT_REFERENCE:
        customer = ""
    return bank_reference(bank or customer)


def _entry_line(entry: _Entry, account: str, line_no: int) -> SettlementLine:
    location = f"line {entry.line} (:61:)"
    fields = entry.fields
    mark = str(fields.get("status") or "").upper()
    amount = fields.get("amount")
    value_date = _plain_date(fields.get("date"))
    try:
        if mark not in MARKS:
            raise FieldError(f"'{mark}' is not a C, D, RC or RD mark")
        check_currency(fields.get("currency"))
        if not isinstance(amount, Amount) or value_date is None:
            raise FieldError("no amount or no value date")
        magnitude = abs(amount.amount)
        amount_minor = dong_from_decimal(magnitude, str(magnitude).replace(".", ","))
        reference = _reference(fields)
    except FieldError as exc:
        raise StatementError(location, str(exc)) from None
    end_to_end, remittance, counterparty = _descriptions(entry, reference)
    line = {
        "line_no": line_no,
        "location": location,
        "bank_account": account,
        "booking_date": _plain_date(fields.get("entry_date")) or value_date,
        "value_date": value_date,
        "amount_minor": amount_minor,
        "direction": MARKS[mark],
        "bank_reference": reference,
        "end_to_end_id": end_to_end,
        "remittance_info": remittance,
        "counterparty": counterparty,
    }
    return line_or_error(line, location)


def _balance(found: tuple[int, str, Balance], what: str) -> Decimal:
    """A balance's signed amount, checked to be in VND."""
    balance_line, tag, balance = found
    try:
        if not isinstance(balance.amount, Amount):
            raise FieldError(f"no {what} balance amount")
        check_currency(balance.amount.currency)
    except FieldError as exc:
        raise StatementError(f"line {balance_line} (:{tag}:)", str(exc)) from None
    return balance.amount.amount


def _account(statement: _Statement) -> str:
    """The account of :25:; of "BIC/account" or "bank code/account" the part after the slash."""
    if statement.account is None:
        raise StatementError(f"line {statement.line} (:20:)", "the statement has no :25: account")
    line, raw = statement.account
    try:
        return bank_account(raw.rsplit("/", 1)[-1])
    except FieldError as exc:
        raise StatementError(f"line {line} (:25:)", str(exc)) from None


def _statement_lines(statement: _Statement, line_no: int, complete: bool) -> list[SettlementLine]:
    """The statement's lines, in order; a complete statement must also add up to its closing.

    An incomplete statement (the library stopped inside it) is checked only as far as it was
    read, so that an earlier problem in it is the one reported.
    """
    where = f"line {statement.line} (:20:)"
    if not complete and (statement.account is None or statement.opening is None):
        return []
    account = _account(statement)
    if statement.opening is None:
        raise StatementError(where, "the statement has no opening balance (:60F:)")
    opening = _balance(statement.opening, "opening")
    lines = [_entry_line(entry, account, line_no + k) for k, entry in enumerate(statement.entries)]
    if not complete:
        return lines
    if statement.closing is None:
        raise StatementError(where, "the statement has no closing balance (:62F:): cut short?")
    closing = _balance(statement.closing, "closing")
    credits = sum(x.amount_minor for x in lines if x.direction is Direction.CREDIT)
    debits = sum(x.amount_minor for x in lines if x.direction is Direction.DEBIT)
    if opening + credits - debits != closing:
        closing_line, tag, _ = statement.closing
        raise StatementError(
            f"line {closing_line} (:{tag}:)",
            f"closing balance {closing} is not opening {opening} + credits {credits}"
            f" - debits {debits} = {opening + credits - debits}",
        )
    return lines


def parse_mt940(content: bytes) -> list[SettlementLine]:
    """Every :61: entry of an MT940 file, in file order, each statement checked whole."""
    statements, failure = _read(_decode(content))
    if not statements and failure is None:
        raise StatementError("line 1", "no MT940 statement (:20:) found")
    lines: list[SettlementLine] = []
    for index, statement in enumerate(statements):
        # The statement the library stopped in is incomplete: check what was read before the
        # stop (it may hold an earlier problem), then report the stop.
        complete = failure is None or index < len(statements) - 1
        lines.extend(_statement_lines(statement, len(lines) + 1, complete))
    if failure is not None:
        raise failure
    return lines
