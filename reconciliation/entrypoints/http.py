"""Reconciliation routes: finance imports, runs, decides and closes; auditors read."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from reconciliation.adapters.report_rendering import report_csv, report_html
from reconciliation.adapters.statements.csv_mapping import CsvMapping
from reconciliation.adapters.uploads import import_file
from reconciliation.service import decisions, reports, runs
from reconciliation.service.context import Actor, Reconciler
from schemas.api.auth import Principal, Role
from schemas.api.reconciliation import (
    DayReport,
    DecisionRequestBody,
    DecisionResponse,
    ImportResponse,
    QueuedException,
    ReasonBody,
    RunResponse,
)
from schemas.events.reconciliation_v1 import StatementFormat
from schemas.time import business_date

STATEMENT_BYTES_MAX = 512 * 1024 * 1024
READERS = {Role.FINANCE, Role.AUDITOR}
Account = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9\-]{3,33}$")]


@dataclass(frozen=True)
class ReconciliationApi:
    reconciler: Reconciler
    mappings: dict[str, CsvMapping]


def _api(request: Request) -> ReconciliationApi:
    found: ReconciliationApi = request.app.state.reconciliation
    return found


def _actor(principal: Principal, request: Request) -> Actor:
    correlation = request.headers.get("X-Correlation-Id")
    try:
        correlation_id = UUID(correlation) if correlation else None
    except ValueError:
        raise HTTPException(422, "X-Correlation-Id must be a UUID") from None
    ids = _api(request).reconciler.ids
    return Actor(principal.actor, correlation_id or ids.next())


def build_router(authenticate: Callable[..., Awaitable[Principal]]) -> APIRouter:
    async def finance(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role is not Role.FINANCE:
            raise HTTPException(403, "reconciliation work is for finance officers")
        return principal

    async def reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in READERS:
            raise HTTPException(403, "reconciliation is for finance officers and auditors")
        return principal

    router = APIRouter(prefix="/reconciliation", tags=["reconciliation"])
    Api = Annotated[ReconciliationApi, Depends(_api)]
    Officer = Annotated[Principal, Depends(finance)]
    Reader = Annotated[Principal, Depends(reader)]

    @router.post(
        "/imports",
        status_code=201,
        response_model=ImportResponse,
        max_body_size=STATEMENT_BYTES_MAX,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def import_statement(
        request: Request,
        api: Api,
        officer: Officer,
        statement_format: Annotated[StatementFormat, Query(alias="format")],
        file_name: Annotated[str, Query(min_length=1, max_length=255)],
        mapping: Annotated[str | None, Query(pattern=r"^[a-z0-9_\-]{1,40}$")] = None,
    ) -> ImportResponse:
        """Import a bank statement (the raw file as the body): all of it or nothing; the same
        file twice is answered with the first import (`already_imported`)."""
        content = await request.body()
        if not content or len(content) > STATEMENT_BYTES_MAX:
            raise HTTPException(
                422, f"the body must hold a statement of 1..{STATEMENT_BYTES_MAX} bytes"
            )
        outcome = await import_file(
            api.reconciler,
            _actor(officer, request),
            content,
            statement_format,
            file_name=file_name,
            mapping_name=mapping,
            mappings=api.mappings,
        )
        return ImportResponse(
            file_id=outcome.file_id,
            line_count=outcome.line_count,
            already_imported=outcome.already_imported,
        )

    @router.post("/days/{bank_account}/{day}/runs", status_code=201, response_model=RunResponse)
    async def run(
        bank_account: Account, day: date, request: Request, api: Api, officer: Officer
    ) -> RunResponse:
        """Run automatic matching for the account's business day (refused once closed)."""
        return await runs.run_day(api.reconciler, _actor(officer, request), bank_account, day)

    @router.get("/days/{bank_account}/{day}", response_model=DayReport)
    async def report(bank_account: Account, day: date, api: Api, _: Reader) -> DayReport:
        """The day report: expected against settled, matches by stage, exceptions by kind/age."""
        return await reports.day_report(api.reconciler, bank_account, day)

    @router.get("/accounts/{bank_account}/exceptions", response_model=list[QueuedException])
    async def exceptions(
        bank_account: Account, api: Api, _: Reader,
        limit: Annotated[int, Query(ge=1, le=reports.QUEUE_LENGTH_MAX)] = 200,
    ) -> list[QueuedException]:  # fmt: skip
        """The exception queue: every open exception of the account, oldest first, with its age
        in banking days and amount."""
        today = business_date(api.reconciler.clock.now())
        return await reports.exception_queue(api.reconciler, bank_account, today, limit)

    @router.get("/days/{bank_account}/{day}/report.csv", response_class=Response)
    async def report_as_csv(bank_account: Account, day: date, api: Api, _: Reader) -> Response:
        found = await reports.day_report(api.reconciler, bank_account, day)
        return Response(report_csv(found), media_type="text/csv")

    @router.get("/days/{bank_account}/{day}/report.html", response_class=HTMLResponse)
    async def report_as_html(bank_account: Account, day: date, api: Api, _: Reader) -> HTMLResponse:
        return HTMLResponse(
            report_html(await reports.day_report(api.reconciler, bank_account, day))
        )

    @router.post(
        "/days/{bank_account}/{day}/decisions", status_code=201, response_model=DecisionResponse
    )
    async def decide(
        bank_account: Account,
        day: date,
        body: DecisionRequestBody,
        request: Request,
        api: Api,
        officer: Officer,
    ) -> DecisionResponse:
        """Manual match, split, write-off to suspense or unmatch; above the approval limit it
        waits for a second finance officer."""
        wanted = decisions.DecisionRequest(body.kind, body.line_keys, body.item_ids, body.reason)
        return await decisions.propose(
            api.reconciler, _actor(officer, request), bank_account, day, wanted
        )

    @router.post(
        "/days/{bank_account}/{day}/decisions/{decision_id}/approve",
        response_model=DecisionResponse,
    )
    async def approve(
        bank_account: Account,
        day: date,
        decision_id: UUID,
        body: ReasonBody,
        request: Request,
        api: Api,
        officer: Officer,
    ) -> DecisionResponse:
        """Approve another officer's decision (never your own)."""
        return await decisions.approve(
            api.reconciler, _actor(officer, request), bank_account, day, decision_id, body.reason
        )

    @router.post(
        "/days/{bank_account}/{day}/decisions/{decision_id}/reject", response_model=DecisionResponse
    )
    async def reject(
        bank_account: Account,
        day: date,
        decision_id: UUID,
        body: ReasonBody,
        request: Request,
        api: Api,
        officer: Officer,
    ) -> DecisionResponse:
        """Reject another officer's decision; nothing of it takes effect."""
        return await decisions.reject(
            api.reconciler, _actor(officer, request), bank_account, day, decision_id, body.reason
        )

    @router.post("/days/{bank_account}/{day}/close", status_code=204)
    async def close(
        bank_account: Account, day: date, request: Request, api: Api, officer: Officer
    ) -> Response:
        """Close (lock) the day; refused while its own bank lines or decisions are open."""
        await decisions.close_day(api.reconciler, _actor(officer, request), bank_account, day)
        return Response(status_code=204)

    @router.post("/days/{bank_account}/{day}/reopen", status_code=204)
    async def reopen(
        bank_account: Account,
        day: date,
        body: ReasonBody,
        request: Request,
        api: Api,
        officer: Officer,
    ) -> Response:
        """Reopen a closed day; the reopening is itself an event with its reason."""
        await decisions.reopen_day(
            api.reconciler, _actor(officer, request), bank_account, day, body.reason
        )
        return Response(status_code=204)

    return router
