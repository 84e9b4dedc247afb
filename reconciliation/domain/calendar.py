"""Banking days: Monday to Friday, except Vietnamese public holidays (data/holidays_vn.csv).

Settlement lag is counted in banking days, so a card payment captured on Friday with T+1 is due
on Monday, and one captured just before Tết is due after it: an item is late only when it is
really late. The calendar refuses dates outside the years its holiday list covers, because a
missing year would silently treat Tết as banking days.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from reconciliation.domain.errors import RulesError

BANKING_DAYS_STEP_MAX = 400  # no lag or window spans more than a year of calendar days
# A run asks the same few (day, lag) questions for a million items: answers are remembered.
CACHED_ANSWERS_MAX = 4096
SATURDAY = 5


@dataclass(frozen=True)
class BankingCalendar:
    holidays: frozenset[date]
    first_year: int
    last_year: int

    @classmethod
    def from_holidays(cls, holidays: Iterable[date]) -> "BankingCalendar":
        days = frozenset(holidays)
        if not days:
            raise RulesError("the holiday calendar is empty")
        return cls(days, min(days).year, max(days).year)

    def _covered(self, day: date) -> None:
        if not self.first_year <= day.year <= self.last_year:
            raise RulesError(
                f"{day} is outside the holiday calendar ({self.first_year}–{self.last_year})",
                day=day.isoformat(),
            )

    def is_banking_day(self, day: date) -> bool:
        self._covered(day)
        return day.weekday() < SATURDAY and day not in self.holidays

    @functools.lru_cache(maxsize=CACHED_ANSWERS_MAX)  # noqa: B019 (the calendar is immutable)
    def add_banking_days(self, day: date, count: int) -> date:
        """The `count`-th banking day after `day` (0: `day` itself if banking, else the next)."""
        current = day
        if count == 0:
            for _ in range(BANKING_DAYS_STEP_MAX):
                if self.is_banking_day(current):
                    return current
                current += timedelta(days=1)
            raise RulesError(f"no banking day within {BANKING_DAYS_STEP_MAX} days of {day}")
        remaining = count
        for _ in range(BANKING_DAYS_STEP_MAX):
            current += timedelta(days=1)
            if self.is_banking_day(current):
                remaining -= 1
                if remaining == 0:
                    return current
        raise RulesError(f"{count} banking days after {day} is too far", day=day.isoformat())

    def banking_days_between(self, start: date, end: date) -> int:
        """Banking days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.banking_days_between(end, start)
        if (end - start).days > BANKING_DAYS_STEP_MAX:
            raise RulesError(f"{start}..{end} spans more than {BANKING_DAYS_STEP_MAX} days")
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_banking_day(start + timedelta(days=offset))
        )
