"""The metrics' PostgreSQL history: batch increments (inside a stream consumer's transaction) and
the report with the rates of docs/metrics.md."""

from dataclasses import dataclass
from datetime import date
from typing import Literal

import asyncpg

from events.sqlfiles import load_statements
from metrics.domain.rules import COUNTERS, MetricBatch, rate

SQL = load_statements("metrics.adapters.sql", "metrics.sql")
REPORT_ROWS_MAX = 5000
Dimension = Literal["all", "level", "unit", "agency", "procedure"]
Period = Literal["day", "month"]


class ReportTooLargeError(ValueError):
    """A report with more rows than one answer carries."""


@dataclass(frozen=True)
class MetricRow:
    period: date
    dimension: str
    counts: dict[str, int]
    median_seconds_to_payment: float | None

    @property
    def online_filing_rate(self) -> float | None:
        filed = self.counts["filed_online"] + self.counts["filed_counter"]
        return rate(self.counts["filed_online"], filed)

    @property
    def online_payment_rate(self) -> float | None:
        paid = self.counts["paid_online"] + self.counts["paid_counter"]
        return rate(self.counts["paid_online"], paid)

    @property
    def payment_success_rate(self) -> float | None:
        return rate(self.counts["paid_online"], self.counts["checkout_attempts"])


async def record_batch(connection: asyncpg.Connection, batch: MetricBatch) -> None:
    """Add one batch's counts (inside the consumer's transaction)."""
    totals = batch.totals
    if totals:
        # Sorted: two workers adding to the same rows then lock them in the same order (no
        # deadlock; measured: unsorted, two workers deadlocked within seconds).
        keys = sorted(totals, key=lambda k: (k.business_date, k.unit_code, k.agency_code,
                                              k.procedure_code))  # fmt: skip
        await connection.execute(
            SQL["add_daily"],
            [key.business_date for key in keys], [key.unit_code for key in keys],
            [key.agency_code for key in keys], [key.procedure_code for key in keys],
            *[[totals[key][name] for key in keys] for name in COUNTERS],
        )  # fmt: skip
    levels = dict(sorted(batch.unit_levels.items()))
    if levels:
        await connection.execute(SQL["set_unit_levels"], list(levels), list(levels.values()))
    # Rows in payment id order, as the daily rows are in key order: two workers (the filing's
    # partition and the capture's) then lock a payment's timing row in the same order.
    if batch.opened:
        opened = sorted(batch.opened, key=lambda row: row[0])
        await connection.execute(
            SQL["open_timings"], [o[0] for o in opened], [o[1] for o in opened]
        )
    if batch.closed:
        closed = sorted(batch.closed, key=lambda row: row[0])
        await connection.execute(
            SQL["close_timings"], [c[0] for c in closed], [c[1] for c in closed],
            [c[2].business_date for c in closed], [c[2].unit_code for c in closed],
            [c[2].agency_code for c in closed], [c[2].procedure_code for c in closed],
        )  # fmt: skip


class MetricsQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def report(
        self, first_day: date, last_day: date, by: Dimension = "all", period: Period = "day"
    ) -> list[MetricRow]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                SQL["report"], first_day, last_day, by, period, REPORT_ROWS_MAX + 1
            )
        if len(rows) > REPORT_ROWS_MAX:  # never a report silently cut short
            raise ReportTooLargeError(
                f"the report has more than {REPORT_ROWS_MAX} rows: narrow the days, group by "
                "month, or choose a coarser dimension"
            )
        return [
            MetricRow(
                period=row["period"],
                dimension=row["dimension"],
                counts={name: int(row[name]) for name in COUNTERS},
                median_seconds_to_payment=(
                    None if row["median_seconds"] is None else float(row["median_seconds"])
                ),
            )
            for row in rows
        ]

    async def cumulative_by_unit(self) -> list[tuple[str, str, dict[str, int]]]:
        """(unit, level, all-time counters) for the Prometheus export."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(SQL["cumulative"])
        return [
            (row["unit_code"], row["level"], {name: int(row[name]) for name in COUNTERS})
            for row in rows
        ]
