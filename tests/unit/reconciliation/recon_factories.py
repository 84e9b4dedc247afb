"""Builders of bank lines and expected items for the reconciliation unit tests."""

import itertools
import uuid
from datetime import UTC, date, datetime

from reconciliation.adapters.reference_data import load_calendar, load_rules_book
from reconciliation.domain.items import BankLine, ExpectedItem, ItemFacts, ItemKind, expect
from reconciliation.domain.rules import MatchingRules
from schemas.codes import payment_code
from schemas.events.reconciliation_v1 import Direction

ACCOUNT = "0011001234567"
CALENDAR = load_calendar()
RULES: MatchingRules = load_rules_book().in_force_on(date(2026, 11, 25))
FILE_ID = uuid.UUID("00000000-0000-4000-8000-00000000f11e")
_numbers = itertools.count(1)


def line(
    amount_minor: int,
    *,
    booked_on: date = date(2026, 11, 25),
    direction: Direction = Direction.CREDIT,
    end_to_end_id: str | None = None,
    note: str | None = None,
    counterparty: str | None = None,
    bank_reference: str | None = None,
    account: str = ACCOUNT,
) -> BankLine:
    number = next(_numbers)
    return BankLine(
        key=f"{FILE_ID}:{number}",
        bank_account=account,
        booking_date=booked_on,
        amount_minor=amount_minor,
        direction=direction,
        bank_reference=bank_reference or f"FT{number:010d}",
        end_to_end_id=end_to_end_id,
        remittance_info=note,
        counterparty=counterparty,
    )


def item(
    amount_minor: int,
    *,
    kind: ItemKind = ItemKind.PAYMENT,
    clearing: tuple[str, str] = ("pos", "VP-TP-VINHYEN"),
    at: datetime = datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
    references: tuple[str, ...] = (),
    item_id: uuid.UUID | None = None,
) -> ExpectedItem:
    identifier = item_id or uuid.uuid4()
    facts = ItemFacts(
        item_id=identifier,
        kind=kind,
        amount_minor=amount_minor,
        clearing_kind=clearing[0],
        clearing_qualifier=clearing[1],
        occurred_at=at,
        references=(*references, payment_code(identifier)),
    )
    expected = expect(facts, RULES, CALENDAR)
    assert expected is not None
    return expected
