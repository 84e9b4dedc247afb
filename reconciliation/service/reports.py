"""The day report: expected against settled, matches by stage, exceptions by kind and age."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from reconciliation.domain.items import Expectations
from reconciliation.domain.report import age_in_banking_days, ageing, expected_at_bank
from reconciliation.service.context import Reconciler
from schemas.api.reconciliation import (
    AgeingBucket,
    DayReport,
    ExceptionTotals,
    ExceptionView,
    QueuedException,
)
from schemas.time import BUSINESS_ZONE

LOOKBACK_DAYS = 21  # items taken this long before the day can still be due on it (Tết + lag)


async def day_report(reconciler: Reconciler, bank_account: str, day: date) -> DayReport:
    model = reconciler.read_model
    await model.catch_up()
    rules = reconciler.rules_book.in_force_on(day)
    start = datetime.combine(day - timedelta(days=LOOKBACK_DAYS), time(0), BUSINESS_ZONE)
    end = datetime.combine(day + timedelta(days=1), time(0), BUSINESS_ZONE)
    expectations = Expectations(rules, reconciler.calendar)
    items = [
        item
        for facts in await model.items_taken_between(start, end)
        if (item := expectations(facts)) is not None
    ]
    expected = expected_at_bank(items, bank_account, day)
    status, closed_by = await model.day_status(bank_account, day)
    counts = await model.day_counts(bank_account, day)
    exceptions = await model.open_exceptions(bank_account, day)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for exception in exceptions:
        by_kind[exception.kind.value][0] += 1
        by_kind[exception.kind.value][1] += exception.amount_minor
    calendar = reconciler.calendar
    return DayReport(
        bank_account=bank_account,
        business_date=day,
        status=status,
        closed_by=closed_by,
        expected_gross_minor=expected.gross_minor,
        expected_fee_minor=expected.fee_minor,
        expected_net_minor=expected.net_minor,
        line_count=counts.line_count,
        matched_line_count=counts.settled_count,
        settled_minor=counts.settled_minor,
        stages=await model.stage_totals(bank_account, day),
        exceptions_by_kind=[
            ExceptionTotals(kind=kind, count=count, amount_minor=amount)
            for kind, (count, amount) in sorted(by_kind.items())
        ],
        ageing=[
            AgeingBucket(label=label, count=count, amount_minor=amount)
            for label, count, amount in ageing(exceptions, day, calendar)
        ],
        exceptions=[
            ExceptionView(
                **exception.model_dump(),
                age_banking_days=age_in_banking_days(exception.dated_on, day, calendar),
            )
            for exception in exceptions
        ],
        runs=await model.runs(bank_account, day),
    )


QUEUE_LENGTH_MAX = 1000


async def exception_queue(
    reconciler: Reconciler, bank_account: str, today: date, limit: int = QUEUE_LENGTH_MAX
) -> list[QueuedException]:
    """The finance officers' work list: every open exception of the account, oldest first, with
    its age in banking days as of `today`."""
    await reconciler.read_model.catch_up()
    queued = await reconciler.read_model.exception_queue(bank_account, min(limit, QUEUE_LENGTH_MAX))
    return [
        QueuedException(
            **exception.model_dump(), business_date=day,
            age_banking_days=age_in_banking_days(exception.dated_on, today, reconciler.calendar),
        )
        for day, exception in queued
    ]  # fmt: skip
