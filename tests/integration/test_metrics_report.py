"""Proves the rates report on the real PostgreSQL: the median of filing-to-payment times per
group, and a report with more rows than one answer carries refused rather than cut short."""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

import metrics.adapters.store as store_module
from entrypoints.bootstrap import Runtime
from metrics.adapters.store import MetricsQueries, ReportTooLargeError

DAY = date(2026, 11, 24)
FILED_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def seed(
    runtime: Runtime, units: list[str], paid_after_minutes: dict[str, list[int]]
) -> None:
    async with runtime.pool.acquire() as connection:
        for unit in units:
            await connection.execute(
                "INSERT INTO metric_daily (business_date, unit_code, agency_code, procedure_code,"
                " filed_online, filed_counter, fee_bearing_filed, checkout_attempts, paid_online,"
                " paid_counter, paid_online_minor, paid_counter_minor, refunds, refunds_minor)"
                " VALUES ($1, $2, 'SO-TP', 'TP-1', 3, 1, 4, 3, 3, 1, 600000, 200000, 0, 0)",
                DAY, unit,
            )  # fmt: skip
            for minutes in paid_after_minutes.get(unit, []):
                await connection.execute(
                    "INSERT INTO metric_payment_times (payment_id, requested_at, captured_at,"
                    " business_date, unit_code, agency_code, procedure_code)"
                    " VALUES ($1, $2, $3, $4, $5, 'SO-TP', 'TP-1')",
                    uuid4(), FILED_AT, FILED_AT + timedelta(minutes=minutes), DAY, unit,
                )  # fmt: skip


async def test_the_median_is_each_group_s_own(runtime: Runtime) -> None:
    await seed(runtime, ["VP", "VY"], {"VP": [10, 20, 90], "VY": [5]})
    rows = await MetricsQueries(runtime.pool).report(DAY, DAY, "unit", "day")
    medians = {row.dimension: row.median_seconds_to_payment for row in rows}
    assert medians == {"VP": 20 * 60.0, "VY": 5 * 60.0}
    [everything] = await MetricsQueries(runtime.pool).report(DAY, DAY, "all", "day")
    assert everything.median_seconds_to_payment == 15 * 60.0  # of 5, 10, 20 and 90 minutes
    assert everything.counts["paid_online"] == 6


async def test_a_report_too_large_for_one_answer_is_refused_not_cut(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(runtime, ["VP", "VY", "TD"], {})
    monkeypatch.setattr(store_module, "REPORT_ROWS_MAX", 2)
    with pytest.raises(ReportTooLargeError, match="more than 2 rows"):
        await MetricsQueries(runtime.pool).report(DAY, DAY, "unit", "day")
    assert len(await MetricsQueries(runtime.pool).report(DAY, DAY, "all", "day")) == 1
