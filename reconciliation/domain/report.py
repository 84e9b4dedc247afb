"""The day report's arithmetic: what was expected at the bank, and how old the exceptions are."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from reconciliation.domain.calendar import BankingCalendar
from reconciliation.domain.items import ExpectedItem
from schemas.events.reconciliation_v1 import Direction, ReconciliationException

AGEING_BUCKETS = (("0 days", 0, 0), ("1 day", 1, 1), ("2–5 days", 2, 5), ("6+ days", 6, 10_000))


@dataclass(frozen=True)
class Expected:
    gross_minor: int
    fee_minor: int

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.fee_minor


def expected_at_bank(items: Iterable[ExpectedItem], bank_account: str, day: date) -> Expected:
    """Credits due at the account on the day: their gross, and the fees gateways will keep."""
    due = [
        item
        for item in items
        if item.due_on == day
        and item.route.bank_account == bank_account
        and item.facts.direction is Direction.CREDIT
    ]
    return Expected(
        gross_minor=sum(item.amount_minor for item in due),
        fee_minor=sum(item.route.fee_for(item.amount_minor) for item in due if item.route.lump),
    )


def age_in_banking_days(dated_on: date, day: date, calendar: BankingCalendar) -> int:
    return max(calendar.banking_days_between(dated_on, day), 0)


def ageing(
    exceptions: Iterable[ReconciliationException], day: date, calendar: BankingCalendar
) -> list[tuple[str, int, int]]:
    """(bucket label, count, amount) of the exceptions by age in banking days."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for exception in exceptions:
        age = age_in_banking_days(exception.dated_on, day, calendar)
        label = next(label for label, low, high in AGEING_BUCKETS if low <= age <= high)
        totals[label][0] += 1
        totals[label][1] += exception.amount_minor
    return [(label, totals[label][0], totals[label][1]) for label, _, _ in AGEING_BUCKETS]
