"""Metric routes: online-payment-rate reports (finance, auditor) and the Prometheus export."""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from events.streaming.consumers import dead_letter_counts, partition_states
from metrics.adapters.store import MetricsQueries, ReportTooLargeError
from metrics.entrypoints.prometheus import exposition
from schemas.api.auth import Principal, Role

READERS = {Role.FINANCE, Role.AUDITOR}
REPORT_DAYS_MAX = 400


class RateRow(BaseModel):
    period: date
    dimension: str
    counts: dict[str, int]
    online_filing_rate: float | None
    online_payment_rate: float | None
    payment_success_rate: float | None
    median_seconds_to_payment: float | None


def queries(request: Request) -> MetricsQueries:
    found: MetricsQueries = request.app.state.metric_queries
    return found


def build_router(
    authenticate: Callable[..., Awaitable[Principal]], head_position: Callable[[], Awaitable[int]]
) -> APIRouter:
    async def reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in READERS:
            raise HTTPException(403, "metrics are for finance and auditors")
        return principal

    router = APIRouter(tags=["metrics"], dependencies=[Depends(reader)])
    Queries = Annotated[MetricsQueries, Depends(queries)]

    @router.get("/reports/online-payment-rates", response_model=list[RateRow])
    async def online_payment_rates(
        store: Queries,
        first_day: date,
        last_day: date,
        by: Literal["all", "level", "unit", "agency", "procedure"] = "level",
        period: Literal["day", "month"] = "day",
    ) -> list[RateRow]:
        """Counts and rates per day or month, by administrative level, unit, agency or
        procedure. Formulas: docs/metrics.md."""
        if not 0 <= (last_day - first_day).days <= REPORT_DAYS_MAX:
            raise HTTPException(422, f"last_day must be 0..{REPORT_DAYS_MAX} days after first_day")
        try:
            rows = await store.report(first_day, last_day, by, period)
        except ReportTooLargeError as error:
            raise HTTPException(422, str(error)) from error
        return [
            RateRow(
                period=row.period,
                dimension=row.dimension,
                counts=row.counts,
                online_filing_rate=row.online_filing_rate,
                online_payment_rate=row.online_payment_rate,
                payment_success_rate=row.payment_success_rate,
                median_seconds_to_payment=row.median_seconds_to_payment,
            )
            for row in rows
        ]

    @router.get("/metrics", response_class=PlainTextResponse)
    async def prometheus(store: Queries) -> PlainTextResponse:
        """Prometheus text format: all-time counters per unit, dead letters, consumer lag."""
        text = exposition(
            await store.cumulative_by_unit(), await dead_letter_counts(store.pool),
            await head_position(), await partition_states(store.pool),
        )  # fmt: skip
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return router
