"""Proves the sandbox gateway behaves like VNPay for each outcome, end to end in-process: the real
VnpayGateway builds the pay URL, the sandbox (over httpx.ASGITransport) redirects the browser
with signed results and sends signed IPNs to a tiny fake merchant app (also over ASGITransport),
records the merchant's replies, and answers querydr with signed, verifiable recorded state.
Success, failure, timeout, duplicate, duplicate with another amount, late and wrong-amount
outcomes are each checked, as are refusals, retries of unreachable IPN targets and forged
querydr answers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request

from payments.adapters.gateway.ports import (
    CheckoutOrder,
    GatewayCallback,
    GatewayCallbackFormatError,
    GatewayResponseError,
    GatewayResponseSignatureError,
    GatewayUnavailableError,
    IpnReply,
)
from payments.adapters.gateway.vnpay import VnpayConfig, VnpayGateway
from payments.adapters.gateway.vnpay_signing import querydr_response_hash, verify
from payments.sandbox.app import (
    Outcome,
    SandboxConfig,
    SandboxGateway,
    create_sandbox_app,
    weighted_outcome,
)

SECRET = b"sandbox-unit-test-secret-0123456789"
TMN_CODE = "FEESTEST"
SANDBOX_URL = "http://sandbox.test"
MERCHANT_URL = "http://merchant.test"
AMOUNT_MINOR = 150_000


@dataclass
class FakeMerchant:
    """Answers IPNs the way VNPay's guide tells merchants to: signature, order, amount, state."""

    expected_amount_minor: dict[str, int] = field(default_factory=dict)
    settled: dict[str, GatewayCallback] = field(default_factory=dict)
    received: list[dict[str, str]] = field(default_factory=list)

    def answer(self, gateway: VnpayGateway, params: dict[str, str]) -> IpnReply:
        self.received.append(params)
        try:
            verified = gateway.verify_callback(params)
        except GatewayCallbackFormatError:
            return IpnReply.UNKNOWN_ERROR
        if verified is None:
            return IpnReply.INVALID_SIGNATURE
        callback = verified.callback
        expected = self.expected_amount_minor.get(callback.order_ref)
        if expected is None:
            return IpnReply.ORDER_NOT_FOUND
        if callback.amount_minor != expected:
            return IpnReply.INVALID_AMOUNT
        if callback.order_ref in self.settled:
            return IpnReply.ALREADY_CONFIRMED
        self.settled[callback.order_ref] = callback
        return IpnReply.CONFIRMED


def merchant_app(merchant: FakeMerchant, gateway: VnpayGateway) -> FastAPI:
    app = FastAPI()

    @app.get("/ipn")
    async def ipn(request: Request) -> dict[str, str]:
        return gateway.ipn_response(merchant.answer(gateway, dict(request.query_params)))

    return app


def vnpay_config(**overrides: object) -> VnpayConfig:
    values: dict[str, object] = {
        "tmn_code": TMN_CODE,
        "pay_url": f"{SANDBOX_URL}/paymentv2/vpcpay.html",
        "api_url": f"{SANDBOX_URL}/merchant_webapi/api/transaction",
        "return_url": f"{MERCHANT_URL}/return",
        "secrets": {"v1": SECRET},
        "current_secret_version": "v1",
    }
    values.update(overrides)
    return VnpayConfig(**values)  # type: ignore[arg-type]


def sandbox_config(**overrides: object) -> SandboxConfig:
    values: dict[str, object] = {
        "tmn_code": TMN_CODE,
        "secret": SECRET,
        "merchant_ipn_url": f"{MERCHANT_URL}/ipn",
        "late_delay_s": 0.05,
        "ipn_retry_delay_s": 0.0,
    }
    values.update(overrides)
    return SandboxConfig(**values)  # type: ignore[arg-type]


def refusing_client() -> httpx.AsyncClient:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the merchant's IPN handler made an HTTP call: {request.url}")

    return httpx.AsyncClient(transport=httpx.MockTransport(refuse))


@dataclass
class World:
    sandbox: SandboxGateway
    browser: httpx.AsyncClient  # the citizen's browser and the merchant's back office
    merchant: FakeMerchant
    gateway: VnpayGateway  # the merchant's adapter for checkout and querydr


@asynccontextmanager
async def make_world(
    *, merchant_transport: httpx.AsyncBaseTransport | None = None, **overrides: object
) -> AsyncIterator[World]:
    merchant = FakeMerchant()
    async with refusing_client() as unused:
        ipn_gateway = VnpayGateway(vnpay_config(), unused)
        transport = merchant_transport or httpx.ASGITransport(merchant_app(merchant, ipn_gateway))
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT_URL) as to_merchant:
            app = create_sandbox_app(sandbox_config(**overrides), http=to_merchant)
            sandbox = app.state.sandbox
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url=SANDBOX_URL
            ) as browser:
                try:
                    yield World(sandbox, browser, merchant, VnpayGateway(vnpay_config(), browser))
                finally:
                    await sandbox.drain()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with make_world() as built:
        yield built


def checkout_order(order_ref: str, *, created_at: datetime | None = None) -> CheckoutOrder:
    created = created_at or datetime.now(UTC)
    return CheckoutOrder(
        order_ref=order_ref,
        amount_minor=AMOUNT_MINOR,
        description="Lệ phí cấp giấy phép xây dựng",
        created_at=created,
        expires_at=created + timedelta(minutes=15),
        client_ip="203.113.0.7",
    )


async def pay(
    world: World, order_ref: str, outcome: str | None = None, **extra: str
) -> httpx.Response:
    if outcome is not None:
        chosen = await world.browser.post(
            "/sandbox/outcomes", json={"txn_ref": order_ref, "outcome": outcome, **extra}
        )
        assert chosen.status_code == 200, chosen.text
    world.merchant.expected_amount_minor[order_ref] = AMOUNT_MINOR
    return await world.browser.get(world.gateway.checkout_url(checkout_order(order_ref)))


def returned_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{MERCHANT_URL}/return?")
    return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))


async def report(world: World, order_ref: str) -> dict[str, object]:
    response = await world.browser.get(f"/sandbox/orders/{order_ref}")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def replies(body: dict[str, object]) -> list[object]:
    ipns = body["ipns"]
    assert isinstance(ipns, list)
    return [ipn["reply"] for ipn in ipns]


CONFIRMED = {"RspCode": "00", "Message": "Confirm Success"}


async def test_success_redirects_signed_and_sends_one_verified_ipn(world: World) -> None:
    returned = returned_params(await pay(world, "ORDER-S1", "success"))
    assert verify(returned, SECRET)
    verified = world.gateway.verify_callback(returned)
    assert verified is not None and verified.callback.succeeded
    assert verified.callback.amount_minor == AMOUNT_MINOR

    await world.sandbox.drain()
    assert len(world.merchant.received) == 1
    ipn = world.merchant.received[0]
    assert verify(ipn, SECRET)
    assert ipn == returned  # the browser return and the IPN carry the same signed result
    assert replies(await report(world, "ORDER-S1")) == [CONFIRMED]

    status = await world.gateway.query_status("ORDER-S1", datetime.now(UTC), "10.0.0.5")
    assert status.found and status.succeeded and not status.pending
    assert status.amount_minor == AMOUNT_MINOR
    assert status.gateway_transaction_ref == ipn["vnp_TransactionNo"]
    assert status.paid_at == world.merchant.settled["ORDER-S1"].paid_at


@pytest.mark.parametrize("code", ["24", "51"])
async def test_failure_sends_a_failed_ipn_and_querydr_reports_it(world: World, code: str) -> None:
    order_ref = f"ORDER-F{code}"
    returned = returned_params(await pay(world, order_ref, "failure", failure_response_code=code))
    assert verify(returned, SECRET)
    assert (returned["vnp_ResponseCode"], returned["vnp_TransactionStatus"]) == (code, "02")

    await world.sandbox.drain()
    assert [ipn["vnp_ResponseCode"] for ipn in world.merchant.received] == [code]
    assert not world.merchant.settled[order_ref].succeeded
    status = await world.gateway.query_status(order_ref, datetime.now(UTC), "10.0.0.5")
    assert status.found and not status.succeeded and status.transaction_status == "02"


async def test_failure_without_a_chosen_code_draws_24_or_51(world: World) -> None:
    returned = returned_params(await pay(world, "ORDER-F0", "failure"))
    assert returned["vnp_ResponseCode"] in {"24", "51"}


async def test_timeout_sends_nothing_and_querydr_says_pending(world: World) -> None:
    response = await pay(world, "ORDER-T1", "timeout")
    assert response.status_code == 200 and "location" not in response.headers

    await world.sandbox.drain()
    assert world.merchant.received == []
    status = await world.gateway.query_status("ORDER-T1", datetime.now(UTC), "10.0.0.5")
    assert status.found and status.pending and not status.succeeded
    assert status.gateway_transaction_ref is None and status.paid_at is None


async def test_querydr_for_an_unknown_reference_says_not_found(world: World) -> None:
    status = await world.gateway.query_status("NEVER-PAID", datetime.now(UTC), "10.0.0.5")
    assert not status.found and status.query_response_code == "91"


async def test_duplicate_sends_two_identical_ipns(world: World) -> None:
    returned_params(await pay(world, "ORDER-D1", "duplicate"))
    await world.sandbox.drain()
    first, second = world.merchant.received
    assert first == second and verify(second, SECRET)
    already = {"RspCode": "02", "Message": "Order already confirmed"}
    assert replies(await report(world, "ORDER-D1")) == [CONFIRMED, already]


async def test_duplicate_with_another_amount_is_refused_by_the_merchant(world: World) -> None:
    returned_params(await pay(world, "ORDER-D2", "duplicate_amount_mismatch"))
    await world.sandbox.drain()
    first, second = world.merchant.received
    assert verify(first, SECRET) and verify(second, SECRET)
    assert int(second["vnp_Amount"]) - int(first["vnp_Amount"]) == 1_000 * 100
    invalid = {"RspCode": "04", "Message": "Invalid amount"}
    assert replies(await report(world, "ORDER-D2")) == [CONFIRMED, invalid]


async def test_late_ipn_arrives_after_the_redirect_and_querydr_knows_first(world: World) -> None:
    returned = returned_params(await pay(world, "ORDER-L1", "late"))
    assert world.merchant.received == []  # the browser is back before the IPN
    status = await world.gateway.query_status("ORDER-L1", datetime.now(UTC), "10.0.0.5")
    assert status.succeeded  # so the merchant can recover without waiting for the IPN

    await world.sandbox.drain()
    assert world.merchant.received == [returned]
    assert replies(await report(world, "ORDER-L1")) == [CONFIRMED]


async def test_amount_mismatch_ipn_is_refused_and_querydr_shows_the_gateway_amount(
    world: World,
) -> None:
    returned_params(await pay(world, "ORDER-A1", "amount_mismatch"))
    await world.sandbox.drain()
    (ipn,) = world.merchant.received
    assert verify(ipn, SECRET) and ipn["vnp_Amount"] == str((AMOUNT_MINOR + 1_000) * 100)
    assert replies(await report(world, "ORDER-A1")) == [
        {"RspCode": "04", "Message": "Invalid amount"}
    ]
    status = await world.gateway.query_status("ORDER-A1", datetime.now(UTC), "10.0.0.5")
    assert status.amount_minor == AMOUNT_MINOR + 1_000


async def test_pay_page_refuses_a_tampered_url_with_a_reason(world: World) -> None:
    url = world.gateway.checkout_url(checkout_order("ORDER-X1"))
    tampered = url.replace(f"vnp_Amount={AMOUNT_MINOR * 100}", "vnp_Amount=100")
    response = await world.browser.get(tampered)
    assert response.status_code == 400
    assert "vnp_SecureHash" in response.json()["error"]
    assert (await world.browser.get("/sandbox/orders/ORDER-X1")).status_code == 404


async def test_pay_page_refuses_a_reused_reference_and_an_expired_link(world: World) -> None:
    returned_params(await pay(world, "ORDER-R1"))
    again = await world.browser.get(world.gateway.checkout_url(checkout_order("ORDER-R1")))
    assert again.status_code == 400 and "already used" in again.json()["error"]

    old = checkout_order("ORDER-E1", created_at=datetime.now(UTC) - timedelta(hours=1))
    expired = await world.browser.get(world.gateway.checkout_url(old))
    assert expired.status_code == 400 and "expired" in expired.json()["error"]


async def test_outcome_cannot_change_after_payment(world: World) -> None:
    returned_params(await pay(world, "ORDER-O1"))
    late_choice = await world.browser.post(
        "/sandbox/outcomes", json={"txn_ref": "ORDER-O1", "outcome": "failure"}
    )
    assert late_choice.status_code == 409
    unknown = await world.browser.post(
        "/sandbox/outcomes", json={"txn_ref": "ORDER-O2", "outcome": "explode"}
    )
    assert unknown.status_code == 422


def test_weighted_outcomes_are_reproducible_and_follow_the_weights() -> None:
    weights: dict[Outcome, int] = {"success": 90, "failure": 6, "timeout": 4}
    drawn = [weighted_outcome(f"ORDER-{number}", weights) for number in range(2_000)]
    assert drawn == [weighted_outcome(f"ORDER-{number}", weights) for number in range(2_000)]
    assert 0.85 < drawn.count("success") / len(drawn) < 0.95
    assert {"failure", "timeout"} <= set(drawn)
    assert weighted_outcome("ORDER-1", {}) is None
    assert weighted_outcome("ORDER-1", {"timeout": 1, "success": 0}) == "timeout"


async def test_weights_then_default_decide_unset_orders() -> None:
    async with make_world(outcome_weights={"failure": 1}) as world:
        assert returned_params(await pay(world, "ORDER-W1"))["vnp_ResponseCode"] != "00"
    async with make_world(default_outcome="timeout") as world:
        assert (await pay(world, "ORDER-W2")).status_code == 200
        assert (await pay(world, "ORDER-W3", "success")).status_code == 302


async def test_ipn_is_retried_on_network_errors_then_delivered() -> None:
    attempts: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=CONFIRMED)

    async with make_world(merchant_transport=httpx.MockTransport(flaky)) as world:
        returned_params(await pay(world, "ORDER-N1"))
        await world.sandbox.drain()
        ipns = (await report(world, "ORDER-N1"))["ipns"]
    assert isinstance(ipns, list) and len(ipns) == 1
    ipn = ipns[0]
    assert ipn["attempt_count"] == 3 and len(ipn["errors"]) == 2
    assert ipn["reply"] == CONFIRMED
    assert all(request.url.path == "/ipn" for request in attempts)
    assert verify(dict(parse_qsl(attempts[-1].url.query.decode())), SECRET)


async def test_ipn_gives_up_after_the_bounded_attempts() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with make_world(merchant_transport=httpx.MockTransport(down)) as world:
        returned_params(await pay(world, "ORDER-N2"))
        await world.sandbox.drain()
        (ipn,) = world.sandbox.orders["ORDER-N2"].ipns
    assert ipn.attempt_count == 3 and ipn.http_status is None and len(ipn.errors) == 3


def forged_answer(secret: bytes, **changes: str) -> dict[str, str]:
    answer = {
        "vnp_ResponseId": "1",
        "vnp_Command": "querydr",
        "vnp_ResponseCode": "00",
        "vnp_Message": "QueryDR Success",
        "vnp_TmnCode": TMN_CODE,
        "vnp_TxnRef": "ORDER-Q1",
        "vnp_Amount": str(AMOUNT_MINOR * 100),
        "vnp_TransactionStatus": "00",
        "vnp_PayDate": "20240502000005",
    }
    answer["vnp_SecureHash"] = querydr_response_hash(answer, secret)
    answer.update(changes)
    return answer


def answering(body: object, status_code: int = 200) -> VnpayGateway:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status_code, json=body)

    return VnpayGateway(vnpay_config(), httpx.AsyncClient(transport=httpx.MockTransport(handler)))


async def test_querydr_answers_are_only_trusted_when_signed_by_us() -> None:
    now = datetime.now(UTC)
    good = await answering(forged_answer(SECRET)).query_status("ORDER-Q1", now, "10.0.0.5")
    assert good.succeeded and good.amount_minor == AMOUNT_MINOR
    for bad in (
        forged_answer(b"not-our-secret"),
        forged_answer(SECRET, vnp_Amount="100"),
        forged_answer(SECRET, vnp_SecureHash=""),
    ):
        with pytest.raises(GatewayResponseSignatureError):
            await answering(bad).query_status("ORDER-Q1", now, "10.0.0.5")
    with pytest.raises(GatewayResponseError, match="vnp_TxnRef"):
        await answering(forged_answer(SECRET)).query_status("ORDER-Q2", now, "10.0.0.5")
    with pytest.raises(GatewayUnavailableError, match="HTTP 503"):
        await answering({}, 503).query_status("ORDER-Q1", now, "10.0.0.5")


async def test_sandbox_answers_97_to_a_querydr_signed_with_another_secret(world: World) -> None:
    wrong = vnpay_config(secrets={"v1": b"wrong-secret"})
    with pytest.raises(GatewayResponseError, match="'97'"):
        await VnpayGateway(wrong, world.browser).query_status("X", datetime.now(UTC), "10.0.0.5")


async def test_close_drains_pending_late_ipns(world: World) -> None:
    returned_params(await pay(world, "ORDER-C1", "late"))
    await world.sandbox.close()
    assert len(world.merchant.received) == 1
