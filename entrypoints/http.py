"""The HTTP application: FastAPI with OpenAPI at /docs, built from settings.

The lifespan opens the PostgreSQL pool and the gateway's HTTP client, and runs two background
loops: the payments read-model projector and the expiry sweeper. Errors become RFC 9457 problem
details here, and only here.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import asyncpg
import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from entrypoints.audit_http import build_router as audit_router
from entrypoints.auth import TokenService, authenticator
from entrypoints.bootstrap import Runtime, build_reconciler, build_runtime, create_pool
from entrypoints.logging import configure_logging
from entrypoints.sealer import run_sealer
from entrypoints.settings import Settings
from events.clock_and_ids import Clock, IdGenerator, RandomIds, SystemClock
from events.errors import (
    ConcurrencyError,
    DomainError,
    DuplicateCommandError,
    EventStoreError,
    EventValidationError,
    InfrastructureError,
)
from events.gc_pause import tune_collector_for_service
from events.projection import CatchUpProjector
from events.store.append_plan import InvalidAppendError
from ledger.adapters.journal import Journal
from ledger.entrypoints.http import build_router as ledger_router
from metrics.adapters.store import MetricsQueries
from metrics.entrypoints.http import build_router as metrics_router
from payments.adapters.evidence import EvidenceStore
from payments.adapters.gateway.checkout import GatewayCheckout
from payments.adapters.gateway.ports import GatewayError
from payments.adapters.gateway.vnpay import VnpayConfig, VnpayGateway
from payments.adapters.payment_views import PaymentQueries, PaymentsViewProjection
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.domain.errors import PaymentsDomainError
from payments.entrypoints.api import PaymentsApi
from payments.entrypoints.http import build_router
from payments.service.handlers import PaymentsService, PaymentWindows
from payments.service.refunds import RefundsService
from payments.service.streams import CommandContext, Streams
from reconciliation.adapters.statements import StatementError
from reconciliation.adapters.statements.csv_mapping import load_csv_mappings
from reconciliation.entrypoints.http import ReconciliationApi
from reconciliation.entrypoints.http import build_router as reconciliation_router
from schemas.api.auth import Principal, Role

log = structlog.get_logger("http")
GATEWAY_HTTP_TIMEOUT_S = 10.0
# Request bodies larger than this are refused with 413 as they are read (the statement upload has
# its own cap). FastAPI reads a route's body before it checks the bearer token, and uvicorn has no
# limit of its own: without one, anybody could make the API buffer a body of any size.
REQUEST_BODY_BYTES_MAX = 1024 * 1024
HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
SWEEPER = Principal(subject="expiry-sweeper", role=Role.SYSTEM)


def gateway_config(settings: Settings) -> VnpayConfig:
    return VnpayConfig(
        tmn_code=settings.gateway_tmn_code,
        pay_url=settings.gateway_pay_url,
        api_url=settings.gateway_api_url,
        return_url=f"{settings.public_base_url}/gateway/return",
        secrets={v: s.get_secret_value().encode() for v, s in settings.gateway_secrets.items()},
        current_secret_version=settings.gateway_current_secret_version,
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    new_ids: Callable[[], IdGenerator] = RandomIds,
    gateway_transport: httpx.AsyncBaseTransport | None = None,
    background: bool = True,
) -> FastAPI:
    """The app; tests pass a FixedClock, seeded ids, and a transport to an in-process sandbox."""
    clock = clock or SystemClock()
    tokens = TokenService.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        http = httpx.AsyncClient(transport=gateway_transport, timeout=GATEWAY_HTTP_TIMEOUT_S)
        runtime = build_runtime(settings, pool)
        app.state.runtime = runtime
        gateway = VnpayGateway(gateway_config(settings), http)
        streams = Streams(runtime.store, runtime.registry)
        windows = PaymentWindows(
            payment=timedelta(seconds=settings.payment_window_s),
            gateway=timedelta(seconds=settings.gateway_window_s),
        )
        payments = PaymentsService(
            streams, clock, load_fee_schedule(settings.fee_schedule_label), load_units(),
            GatewayCheckout(gateway), windows,
        )  # fmt: skip
        queries = PaymentQueries(pool)
        app.state.payments = PaymentsApi(
            payments=payments, refunds=RefundsService(streams, clock), queries=queries,
            evidence=EvidenceStore(pool), gateway=gateway, store=runtime.store, clock=clock,
            new_ids=new_ids,
        )  # fmt: skip
        _wire_read_side(app, settings, runtime, clock)
        stop = asyncio.Event()
        tasks = []
        if background:
            tasks = [
                asyncio.create_task(app.state.projector.run(stop)),
                asyncio.create_task(
                    _sweep_expired(payments, queries, clock, new_ids, stop, settings)
                ),
            ]
            key = settings.audit_signing_key
            if key is not None and key.get_secret_value():
                tasks.append(asyncio.create_task(run_sealer(runtime, settings, clock, stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await http.aclose()
            await pool.close()

    configure_logging(settings.log_format, settings.log_level)
    app = FastAPI(
        title="Province fees",
        version="0.1.0",
        description="Pay administrative-procedure fees online or at the counter; receipts and "
        "refunds. Every change is an event in a tamper-evident store.",
        lifespan=lifespan,
        max_body_size=REQUEST_BODY_BYTES_MAX,
    )
    authenticate = authenticator(tokens)

    async def head_position() -> int:
        return int((await app.state.runtime.store.head()).position)

    app.include_router(build_router(authenticate))
    app.include_router(ledger_router(authenticate))
    app.include_router(reconciliation_router(authenticate))
    app.include_router(audit_router(authenticate))
    app.include_router(metrics_router(authenticate, head_position))
    app.state.tokens = tokens
    _problem_handlers(app)
    return app


async def sweep_once(
    payments: PaymentsService,
    queries: PaymentQueries,
    clock: Clock,
    new_ids: Callable[[], IdGenerator],
) -> int:
    """Expire every open payment past its deadline (each re-checked on its own stream)."""
    overdue = await queries.overdue_payment_ids(clock.now())
    if not overdue:
        return 0
    context = CommandContext(SWEEPER, new_ids().next(), new_ids())
    return await payments.expire_overdue(context, overdue)


def _wire_read_side(app: FastAPI, settings: Settings, runtime: Runtime, clock: Clock) -> None:
    """Reconciliation, the ledger and metrics queries, and the payments view's projector."""
    app.state.reconciliation = ReconciliationApi(
        build_reconciler(runtime, clock=clock),
        load_csv_mappings(settings.recon_csv_mappings_file),
    )
    app.state.journal = Journal(runtime.pool)
    app.state.metric_queries = MetricsQueries(runtime.pool)
    app.state.projector = CatchUpProjector(
        runtime.pool, runtime.store, PaymentsViewProjection(runtime.store, runtime.registry)
    )


async def _sweep_expired(
    payments: PaymentsService,
    queries: PaymentQueries,
    clock: Clock,
    new_ids: Callable[[], IdGenerator],
    stop: asyncio.Event,
    settings: Settings,
) -> None:
    """Run `sweep_once` every `expiry_sweep_interval_s` until stopped."""
    while not stop.is_set():
        try:
            expired = await sweep_once(payments, queries, clock, new_ids)
            if expired:
                log.info("payments.expired", count=expired)
        except (EventStoreError, PaymentsDomainError) as error:
            log.warning("payments.expiry_sweep_failed", error=str(error))
        except Exception as error:  # the database away: tried again next turn, never fatal
            log.error("payments.expiry_sweep_failed", error=repr(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.expiry_sweep_interval_s)


def _problem(status: int, title: str, detail: str, code: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, error: DomainError) -> JSONResponse:
        field = error.context.get("field")
        return _problem(
            error.http_status, "request refused", str(error), error.code, field=field,
            context={k: str(v) for k, v in error.context.items() if k != "field"} or None,
        )  # fmt: skip

    @app.exception_handler(StatementError)
    async def bad_statement(_: Request, error: StatementError) -> JSONResponse:
        return _problem(
            422, "Statement file refused; nothing was imported", str(error),
            "invalid_statement", location=error.location,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(part) for part in detail["loc"]), "message": detail["msg"]}
            for detail in error.errors()
        ]
        first = problems[0] if problems else {"field": None, "message": "invalid request"}
        return _problem(
            422, "invalid request", f"{first['field']}: {first['message']}", "invalid_request",
            field=first["field"], errors=problems,
        )  # fmt: skip

    # Starlette's own class: FastAPI's HTTPException, and what Starlette raises itself (404, 405,
    # 413 for a body over its cap), all answer as problem documents.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
        response = _problem(error.status_code, "request refused", str(error.detail), code)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(ConcurrencyError)
    async def busy(request: Request, error: ConcurrencyError) -> JSONResponse:
        log.warning("http.conflict_after_retries", path=request.url.path, error=str(error))
        return _problem(409, "conflict, retry", str(error), error.code)

    @app.exception_handler(EventStoreError)
    async def store_error(request: Request, error: EventStoreError) -> JSONResponse:
        # What the store says of its tables and internal paths stays in the log.
        path = request.url.path
        if isinstance(error, InfrastructureError):
            if isinstance(error.__cause__, asyncpg.DataError):  # the request's value, refused
                return await bad_data(request, error.__cause__)
            log.error("http.store_unavailable", path=path, error=str(error))
            detail = "the request could not be stored now; nothing was changed, try again"
            return _problem(503, "not stored", detail, error.code)
        if isinstance(error, DuplicateCommandError):
            return _problem(409, "conflict", "this request was already answered", error.code)
        if isinstance(error, EventValidationError | InvalidAppendError):  # the request's content
            log.warning("http.event_refused", path=path, error=str(error))
            return _problem(422, "not stored", str(error), error.code)
        log.error("http.store_fault", path=path, error=str(error), code=error.code)
        return _problem(500, "internal error", "the request could not be stored", error.code)

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(TimeoutError)
    @app.exception_handler(OSError)  # a refused connection (asyncpg raises the socket's error)
    async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
        # Outside the store's own wrapping (read models, reports): the same answer, the same log.
        log.error("http.database_unavailable", path=request.url.path, error=repr(error))
        detail = "the database did not answer as expected; try again later"
        return _problem(503, "database unavailable", detail, "database_unavailable")

    @app.exception_handler(asyncpg.DataError)
    async def bad_data(request: Request, error: asyncpg.DataError) -> JSONResponse:
        # A safety net: input validation should have refused this before the database did.
        # The database's own words stay in the log: they describe its tables, not the request.
        log.warning("http.database_refused_input", path=request.url.path, error=str(error))
        return _problem(
            422, "invalid request", "a value of this request is out of range", "invalid_input"
        )

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, error: GatewayError) -> JSONResponse:
        # The gateway's address and its raw answer stay in the log, not in the response.
        log.warning("http.gateway_error", path=request.url.path, error=str(error))
        detail = "the payment gateway did not answer as expected; try again later"
        return _problem(502, "gateway unavailable", detail, "gateway_error")


def app_from_environment() -> FastAPI:
    """For uvicorn's --factory: the app configured from FEES_* variables."""
    from entrypoints.settings import load_settings

    app = create_app(load_settings())
    tune_collector_for_service()  # a served process: see events/gc_pause.py
    return app
