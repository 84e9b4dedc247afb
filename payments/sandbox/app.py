"""A sandbox VNPay: the pay page, IPNs to the merchant, the browser return and querydr.

It follows VNPay API 2.1.0 closely enough that the real adapter (payments.adapters.gateway.vnpay)
runs against it unchanged, and it can misbehave on purpose (failures, lost, late, duplicate and
wrong-amount callbacks) so demos and tests see the cases the merchant must survive. The outcome
of an order is the one set through POST /sandbox/outcomes, else one drawn from the TxnRef by the
configured weights (reproducible from run to run), else the default outcome.

IPNs are sent as background tasks through the injected httpx client; `drain()` awaits them so a
test can assert on what the merchant received, and the app's shutdown drains them too.
"""

import asyncio
import hashlib
import hmac
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from payments.adapters.gateway.vnpay_signing import (
    HASH_FIELD,
    VnpayFieldError,
    amount_from_vnp,
    amount_to_vnp,
    format_vn_time,
    parse_vn_time,
    querydr_request_hash,
    querydr_response_hash,
    signed_query,
    verify,
)

Outcome = Literal[
    "success", "failure", "timeout", "duplicate", "duplicate_amount_mismatch", "late",
    "amount_mismatch",
]  # fmt: skip
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
FailureCode = Literal["24", "51", "11"]  # cancelled, insufficient funds, payment timed out
FAILURE_CODES_DRAWN: tuple[FailureCode, ...] = ("24", "51")
TRANSACTION_NO_START = 14_000_001
OUTCOME_OVERRIDES_MAX = 100_000

QUERYDR_MESSAGES = {
    "00": "QueryDR Success",
    "02": "Invalid TmnCode",
    "03": "Invalid request format",
    "91": "Transaction not found",
    "97": "Invalid Checksum",
}


@dataclass(frozen=True)
class SandboxConfig:
    """The sandbox terminal: its code and secret, where IPNs go, and how orders turn out."""

    tmn_code: str
    secret: bytes = field(repr=False)
    merchant_ipn_url: str
    default_outcome: Outcome = "success"
    outcome_weights: Mapping[Outcome, int] = field(default_factory=dict)
    late_delay_s: float = 2.0
    ipn_attempt_count_max: int = 3
    ipn_retry_delay_s: float = 0.2
    ipn_timeout_s: float = 5.0
    amount_mismatch_delta_minor: int = 1_000
    bank_code: str = "NCB"
    orders_max: int = 100_000
    drain_timeout_s: float = 30.0
    ipn_in_flight_max: int = 16

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("SandboxConfig.secret is empty; set FEES_SANDBOX_SECRET")
        if self.default_outcome not in OUTCOMES:
            raise ValueError(f"SandboxConfig.default_outcome {self.default_outcome!r} is unknown")
        unknown = sorted(set(self.outcome_weights) - set(OUTCOMES))
        negative = sorted(name for name, weight in self.outcome_weights.items() if weight < 0)
        if unknown or negative:
            raise ValueError(
                f"SandboxConfig.outcome_weights: unknown outcomes {unknown}, negative {negative}; "
                f"outcomes are {list(OUTCOMES)}"
            )
        if not 1 <= self.ipn_attempt_count_max <= 10:
            raise ValueError("SandboxConfig.ipn_attempt_count_max must be 1..10")
        if self.amount_mismatch_delta_minor <= 0:
            raise ValueError("SandboxConfig.amount_mismatch_delta_minor must be > 0")


class SandboxRequestError(ValueError):
    """The merchant sent something the real gateway would refuse; the text says what."""


def _digest(txn_ref: str) -> int:
    return int.from_bytes(hashlib.sha256(txn_ref.encode("utf-8")).digest()[:8], "big")


def weighted_outcome(txn_ref: str, weights: Mapping[Outcome, int]) -> Outcome | None:
    """The outcome the weights give this TxnRef: the same reference always gets the same one."""
    entries = sorted((name, weight) for name, weight in weights.items() if weight > 0)
    total = sum(weight for _, weight in entries)
    if total == 0:
        return None
    point = _digest(txn_ref) % total
    for name, weight in entries:
        if point < weight:
            return name
        point -= weight
    raise AssertionError("unreachable: point < total")  # pragma: no cover


def drawn_failure_code(txn_ref: str) -> FailureCode:
    return FAILURE_CODES_DRAWN[_digest(txn_ref) % len(FAILURE_CODES_DRAWN)]


@dataclass(frozen=True)
class PayRequest:
    """The merchant's pay URL, checked the way the real gateway checks it."""

    txn_ref: str
    amount_minor: int
    order_info: str
    return_url: str
    created_on_text: str


def _field(params: Mapping[str, str], name: str, expected: str | None = None) -> str:
    value = params.get(name, "")
    if not value:
        raise SandboxRequestError(f"{name} is missing")
    if expected is not None and value != expected:
        raise SandboxRequestError(f"{name} must be {expected!r}, got {value!r}")
    return value


def parse_pay_request(
    params: Mapping[str, str], config: SandboxConfig, now: datetime
) -> PayRequest:
    """Check signature, terminal, version, amount and dates; raise SandboxRequestError if bad."""
    if not verify(params, config.secret):
        raise SandboxRequestError(f"{HASH_FIELD} is missing or does not verify (code 97)")
    _field(params, "vnp_TmnCode", config.tmn_code)
    _field(params, "vnp_Version", "2.1.0")
    _field(params, "vnp_Command", "pay")
    _field(params, "vnp_CurrCode", "VND")
    for name in ("vnp_OrderType", "vnp_IpAddr", "vnp_Locale"):
        _field(params, name)
    return_url = _field(params, "vnp_ReturnUrl")
    if not return_url.startswith(("http://", "https://")):
        raise SandboxRequestError(f"vnp_ReturnUrl must be an http(s) URL, got {return_url!r}")
    try:
        amount_minor = amount_from_vnp(_field(params, "vnp_Amount"))
        created_at = parse_vn_time(_field(params, "vnp_CreateDate"), "vnp_CreateDate")
        expires_at = parse_vn_time(_field(params, "vnp_ExpireDate"), "vnp_ExpireDate")
    except VnpayFieldError as error:
        raise SandboxRequestError(str(error)) from error
    if expires_at <= created_at:
        raise SandboxRequestError("vnp_ExpireDate is not after vnp_CreateDate")
    if now > expires_at:
        raise SandboxRequestError(f"the payment expired at {expires_at.isoformat()} (code 11)")
    return PayRequest(
        txn_ref=_field(params, "vnp_TxnRef"),
        amount_minor=amount_minor,
        order_info=_field(params, "vnp_OrderInfo"),
        return_url=return_url,
        created_on_text=params["vnp_CreateDate"],
    )


@dataclass
class IpnDelivery:
    """One IPN the sandbox sent (with retries) and what the merchant answered."""

    params: dict[str, str]
    delay_s: float = 0.0
    attempt_count: int = 0
    http_status: int | None = None
    reply: object = None
    errors: list[str] = field(default_factory=list)


@dataclass
class SandboxOrder:
    request: PayRequest
    outcome: Outcome
    result: dict[str, str] | None  # the transaction querydr reports; None while it is pending
    ipns: list[IpnDelivery] = field(default_factory=list)


class SandboxGateway:
    """The sandbox's state and behaviour; the FastAPI routes below are thin shells around it."""

    def __init__(
        self, config: SandboxConfig, http: httpx.AsyncClient, clock: Callable[[], datetime]
    ) -> None:
        self.config = config
        self.orders: dict[str, SandboxOrder] = {}
        self.outcome_overrides: dict[str, tuple[Outcome, FailureCode | None]] = {}
        self._http = http
        self._clock = clock
        self._transaction_numbers = itertools.count(TRANSACTION_NO_START)
        self._response_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        # httpx's pool scans every waiting request against every connection: with hundreds of
        # IPNs queued at once that is quadratic (measured: 88% of the sandbox's CPU). A bound on
        # the IPNs in flight keeps the pool's queue short, like a real gateway's sender.
        self._in_flight = asyncio.Semaphore(config.ipn_in_flight_max)

    def set_outcome(self, txn_ref: str, outcome: Outcome, code: FailureCode | None) -> None:
        if txn_ref in self.orders:
            raise SandboxRequestError(f"vnp_TxnRef {txn_ref!r} was already paid; set it before")
        if len(self.outcome_overrides) >= OUTCOME_OVERRIDES_MAX:
            raise SandboxRequestError(f"more than {OUTCOME_OVERRIDES_MAX} outcomes set")
        self.outcome_overrides[txn_ref] = (outcome, code)

    def outcome_for(self, txn_ref: str) -> tuple[Outcome, FailureCode]:
        outcome, code = self.outcome_overrides.get(txn_ref, (None, None))
        if outcome is None:
            drawn = weighted_outcome(txn_ref, self.config.outcome_weights)
            outcome = drawn or self.config.default_outcome
        return outcome, code or drawn_failure_code(txn_ref)

    def pay(self, params: Mapping[str, str]) -> SandboxOrder:
        """Handle one visit of the pay page: record the order and start its IPNs."""
        request = parse_pay_request(params, self.config, self._clock())
        if request.txn_ref in self.orders:
            raise SandboxRequestError(f"vnp_TxnRef {request.txn_ref!r} was already used (code 01)")
        if len(self.orders) >= self.config.orders_max:
            raise SandboxRequestError(f"the sandbox holds {self.config.orders_max} orders, its max")
        outcome, failure_code = self.outcome_for(request.txn_ref)
        order = SandboxOrder(request, outcome, result=None)
        self.orders[request.txn_ref] = order
        if outcome == "timeout":
            return order
        wrong_amount = request.amount_minor + self.config.amount_mismatch_delta_minor
        amount = wrong_amount if outcome == "amount_mismatch" else request.amount_minor
        code = failure_code if outcome == "failure" else "00"
        order.result = self._result_params(request, amount, code)
        second = dict(order.result)
        if outcome == "duplicate_amount_mismatch":
            second["vnp_Amount"] = amount_to_vnp(wrong_amount)
        delay_s = self.config.late_delay_s if outcome == "late" else 0.0
        order.ipns.append(IpnDelivery(dict(order.result), delay_s))
        if outcome in ("duplicate", "duplicate_amount_mismatch"):
            order.ipns.append(IpnDelivery(second))
        self._spawn(self._deliver_all(order.ipns))
        return order

    def _result_params(self, request: PayRequest, amount_minor: int, code: str) -> dict[str, str]:
        succeeded = code == "00"
        # VNPay reports TransactionNo 0 when the citizen cancelled before a transaction existed.
        number = str(next(self._transaction_numbers)) if code != "24" else "0"
        params = {
            "vnp_Amount": amount_to_vnp(amount_minor),
            "vnp_BankCode": self.config.bank_code,
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": request.order_info,
            "vnp_PayDate": format_vn_time(self._clock()),
            "vnp_ResponseCode": code,
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_TransactionNo": number,
            "vnp_TransactionStatus": "00" if succeeded else "02",
            "vnp_TxnRef": request.txn_ref,
        }
        if succeeded:
            params["vnp_BankTranNo"] = f"VNP{number}"
        return params

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_all(self, deliveries: list[IpnDelivery]) -> None:
        for delivery in deliveries:
            if delivery.delay_s > 0:
                await asyncio.sleep(delivery.delay_s)
            await self._deliver(delivery)

    async def _deliver(self, delivery: IpnDelivery) -> None:
        """GET the merchant's IPN URL, retrying network errors a bounded number of times."""
        base = self.config.merchant_ipn_url
        url = (
            base + ("&" if "?" in base else "?") + signed_query(delivery.params, self.config.secret)
        )
        for attempt in range(1, self.config.ipn_attempt_count_max + 1):
            delivery.attempt_count = attempt
            try:
                async with self._in_flight:
                    response = await self._http.get(url, timeout=self.config.ipn_timeout_s)
            except httpx.TransportError as error:
                delivery.errors.append(f"attempt {attempt}: {error!r}")
                if attempt < self.config.ipn_attempt_count_max:
                    await asyncio.sleep(self.config.ipn_retry_delay_s)
                continue
            delivery.http_status = response.status_code
            try:
                delivery.reply = response.json()
            except ValueError:
                delivery.reply = response.text[:1000]
            return

    async def drain(self) -> None:
        """Wait until every IPN started so far has been delivered or has given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self) -> None:
        """Drain within the configured time, then cancel what is left."""
        try:
            await asyncio.wait_for(self.drain(), timeout=self.config.drain_timeout_s)
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()

    def querydr(self, body: Mapping[str, str]) -> dict[str, str]:
        """Answer a querydr request with the recorded state of its TxnRef, signed."""
        txn_ref = body.get("vnp_TxnRef", "")
        answer = {"vnp_TmnCode": self.config.tmn_code, "vnp_TxnRef": txn_ref}
        order = self.orders.get(txn_ref)
        if body.get("vnp_Command") != "querydr" or not txn_ref:
            code = "03"
        elif body.get("vnp_TmnCode") != self.config.tmn_code:
            code = "02"
        elif not _same_hex(
            body.get(HASH_FIELD, ""), querydr_request_hash(body, self.config.secret)
        ):
            code = "97"
        elif order is None:
            code = "91"
        else:
            code = "00"
            answer.update(_transaction_fields(order))
        answer.update(
            vnp_ResponseId=f"{next(self._response_ids):020d}",
            vnp_Command="querydr",
            vnp_ResponseCode=code,
            vnp_Message=QUERYDR_MESSAGES[code],
        )
        answer[HASH_FIELD] = querydr_response_hash(answer, self.config.secret)
        return answer


def _same_hex(received: str, expected: str) -> bool:
    return hmac.compare_digest(received.lower().encode("utf-8"), expected.encode("ascii"))


def _transaction_fields(order: SandboxOrder) -> dict[str, str]:
    common = {"vnp_OrderInfo": order.request.order_info, "vnp_TransactionType": "01"}
    if order.result is None:  # the citizen never finished: VNPay holds it as not completed
        amount = amount_to_vnp(order.request.amount_minor)
        return {**common, "vnp_Amount": amount, "vnp_TransactionStatus": "01"}
    keep = ("vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo")
    recorded = {name: order.result[name] for name in keep}
    return {**common, **recorded, "vnp_TransactionStatus": order.result["vnp_TransactionStatus"]}


class OutcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    txn_ref: str = Field(min_length=1, max_length=100)
    outcome: Outcome
    failure_response_code: FailureCode | None = None


def _order_view(order: SandboxOrder) -> dict[str, object]:
    return {
        "txn_ref": order.request.txn_ref,
        "outcome": order.outcome,
        "requested_amount_minor": order.request.amount_minor,
        "result": order.result,
        "ipns": [
            {
                "params": ipn.params,
                "delay_s": ipn.delay_s,
                "attempt_count": ipn.attempt_count,
                "http_status": ipn.http_status,
                "reply": ipn.reply,
                "errors": ipn.errors,
            }
            for ipn in order.ipns
        ],
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_sandbox_app(
    config: SandboxConfig,
    *,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """The sandbox as an ASGI app; `app.state.sandbox` is its SandboxGateway."""
    owned_http = http is None
    client = http if http is not None else httpx.AsyncClient(follow_redirects=False)
    sandbox = SandboxGateway(config, client, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await sandbox.close()
        if owned_http:
            await client.aclose()

    app = FastAPI(title="VNPay sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox

    @app.get("/paymentv2/vpcpay.html")
    async def pay_page(request: Request) -> Response:
        try:
            order = sandbox.pay(dict(request.query_params))
        except SandboxRequestError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if order.result is None:
            return HTMLResponse(
                f"<p>Sandbox: order {order.request.txn_ref} was left unpaid (outcome timeout);"
                " no callback will be sent.</p>"
            )
        return_url = order.request.return_url
        separator = "&" if "?" in return_url else "?"
        query = signed_query(order.result, config.secret)
        return RedirectResponse(return_url + separator + query, status_code=302)

    @app.post("/merchant_webapi/api/transaction")
    async def transaction_api(request: Request) -> dict[str, str]:
        try:
            payload: object = await request.json()
        except ValueError:
            payload = None
        body = (
            {k: str(v) for k, v in payload.items() if isinstance(v, str | int)}
            if isinstance(payload, dict)
            else {}
        )
        return sandbox.querydr(body)

    @app.post("/sandbox/outcomes")
    async def set_outcome(choice: OutcomeRequest) -> Response:
        try:
            sandbox.set_outcome(choice.txn_ref, choice.outcome, choice.failure_response_code)
        except SandboxRequestError as error:
            return JSONResponse({"error": str(error)}, status_code=409)
        return JSONResponse({"txn_ref": choice.txn_ref, "outcome": choice.outcome})

    @app.get("/sandbox/orders/{txn_ref}")
    async def order_report(txn_ref: str) -> Response:
        order = sandbox.orders.get(txn_ref)
        if order is None:
            return JSONResponse({"error": f"no order {txn_ref!r} reached the pay page"}, 404)
        return JSONResponse(_order_view(order))

    return app
