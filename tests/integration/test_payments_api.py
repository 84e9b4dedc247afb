"""Proves the payment journeys through the HTTP API on the real PostgreSQL, with the sandbox
gateway signing real callbacks: online success with a gap-free receipt, failure then retry,
expiry and payment after expiry, duplicate and forged callbacks, concurrent callbacks (exactly
one capture), counter payment, partial then full refund, idempotent retries, role violations,
and that the payment's events reach Kafka in order."""

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from httpx import Response

from entrypoints.settings import Settings
from events.kafka.messages import envelope_from_message
from events.kafka.producer import create_producer
from events.kafka.relay import OutboxRelay
from payments.adapters.gateway.vnpay import json_strings
from payments.adapters.gateway.vnpay_signing import signed_query, verify_querydr_response
from schemas.api.auth import Role
from tests.integration.api_harness import Harness, running_api
from tests.integration.kafka_reading import consume_until

CITIZEN = "079123456789"
OTHER_CITIZEN = "001099000111"
PROCEDURE = "TP-LLTP-01"  # Cấp Phiếu lý lịch tư pháp, 200,000 đ from 2026, Sở Tư pháp
FEE = 200_000


@pytest.fixture
async def harness(settings: Settings, database: Any) -> AsyncIterator[Harness]:
    async with running_api(settings) as running:
        yield running


def citizen(h: Harness, subject: str = CITIZEN) -> dict[str, str]:
    return h.token(Role.CITIZEN, subject)


async def file_online(h: Harness, subject: str = CITIZEN) -> dict[str, Any]:
    response = await h.post(
        "/dossiers", {"procedure_code": PROCEDURE, "unit_code": "VP"}, citizen(h, subject)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def checkout(h: Harness, payment_id: str, subject: str = CITIZEN) -> Response:
    return await h.post(f"/payments/{payment_id}/checkout", {}, citizen(h, subject))


async def checked_out_ipn(
    h: Harness, transaction_no: str, **extra: str
) -> tuple[str, dict[str, str], bytes]:
    """A filed dossier checked out: its payment id, the success IPN the gateway would send for
    it (with `extra` fields), and the terminal's secret to sign it with."""
    payment_id = (await file_online(h))["payment"]["payment_id"]
    started = await checkout(h, payment_id)
    secret = h.settings.gateway_secrets["v1"].get_secret_value().encode()
    params = {
        "vnp_TmnCode": h.settings.gateway_tmn_code, "vnp_TxnRef": started.json()["order_ref"],
        "vnp_Amount": str(FEE * 100), "vnp_ResponseCode": "00", "vnp_TransactionStatus": "00",
        "vnp_TransactionNo": transaction_no, "vnp_PayDate": "20261124091500", **extra,
    }  # fmt: skip
    return payment_id, params, secret


async def payment(h: Harness, payment_id: str) -> dict[str, Any]:
    response = await h.api.get(f"/payments/{payment_id}", headers=h.token(Role.AUDITOR, "kt-1"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def event_types(h: Harness, payment_id: str) -> list[str]:
    envelopes = await h.payments.store.read_stream(f"payment-{payment_id}")
    return [envelope.event_type for envelope in envelopes]


async def test_online_success_issues_a_gap_free_receipt(harness: Harness) -> None:
    h = harness
    filed = await file_online(h)
    assert filed["fee_minor"] == FEE and filed["payment"]["status"] == "requested"
    payment_id = filed["payment"]["payment_id"]
    started = await checkout(h, payment_id)
    assert started.status_code == 200, started.text
    page = await h.pay_at_sandbox(started.json()["redirect_url"], "success")
    assert page.status_code == 302

    paid = await payment(h, payment_id)
    assert (paid["status"], paid["captured_minor"]) == ("succeeded", FEE)
    assert paid["receipt_number"] == "SO-TU-PHAP-2026-000001"
    assert await event_types(h, payment_id) == [
        "PaymentRequested", "CheckoutStarted", "PaymentCaptured", "ReceiptIssued",
    ]  # fmt: skip

    second = await file_online(h, OTHER_CITIZEN)
    second_id = second["payment"]["payment_id"]
    started = await checkout(h, second_id, OTHER_CITIZEN)
    await h.pay_at_sandbox(started.json()["redirect_url"], "success")
    assert (await payment(h, second_id))["receipt_number"] == "SO-TU-PHAP-2026-000002"

    await h.catch_up_views()
    receipt = await h.api.get("/receipts/SO-TU-PHAP-2026-000001", headers=citizen(h))
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["amount_minor"] == FEE
    returned = await h.api.get("/gateway/return?" + page.headers["location"].split("?", 1)[1])
    assert returned.json()["status"] == "succeeded"


async def test_failure_then_retry_with_a_new_order(harness: Harness) -> None:
    h = harness
    payment_id = (await file_online(h))["payment"]["payment_id"]
    first = await checkout(h, payment_id)
    await h.pay_at_sandbox(first.json()["redirect_url"], "failure")
    assert (await payment(h, payment_id))["status"] == "failed"
    second = await checkout(h, payment_id)
    assert second.json()["order_ref"] != first.json()["order_ref"]
    await h.pay_at_sandbox(second.json()["redirect_url"], "success")
    assert (await payment(h, payment_id))["status"] == "succeeded"


async def test_expiry_and_money_that_arrives_after_it(harness: Harness) -> None:
    h = harness
    payment_id = (await file_online(h))["payment"]["payment_id"]
    started = await checkout(h, payment_id)
    # The citizen pays in time, but the gateway's callback is slow; meanwhile the deadline passes.
    await h.open_pay_page(started.json()["redirect_url"], "late")
    h.clock.advance(timedelta(seconds=h.settings.payment_window_s + 1))
    assert await h.sweep() == 1
    assert (await payment(h, payment_id))["status"] == "expired"
    refused = await checkout(h, payment_id)
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_transition"

    await h.sandbox_app.state.sandbox.drain()  # now the late callback arrives
    late = await payment(h, payment_id)
    assert late["status"] == "captured_after_expiry"
    assert list(late["open_refund_proposals"].values()) == [FEE]
    assert "GatewayCallbackFlagged" in await event_types(h, payment_id)


async def test_duplicate_callback_captures_once(harness: Harness) -> None:
    h = harness
    payment_id = (await file_online(h))["payment"]["payment_id"]
    started = await checkout(h, payment_id)
    await h.pay_at_sandbox(started.json()["redirect_url"], "duplicate")
    order = await h.sandbox.get(f"/sandbox/orders/{started.json()['order_ref']}")
    replies = [ipn["reply"]["RspCode"] for ipn in order.json()["ipns"]]
    assert replies == ["00", "02"]
    assert (await event_types(h, payment_id)).count("PaymentCaptured") == 1


async def test_forged_or_unsigned_callbacks_change_nothing(harness: Harness) -> None:
    h = harness
    payment_id, params, _ = await checked_out_ipn(h, "14000001")
    head_before = await h.payments.store.head()
    forged = await h.api.get("/gateway/ipn?" + signed_query(params, b"not-the-secret"))
    unsigned = await h.api.get("/gateway/ipn", params=params)
    assert forged.json()["RspCode"] == unsigned.json()["RspCode"] == "97"
    assert await h.payments.store.head() == head_before
    assert (await payment(h, payment_id))["status"] == "pending"


async def test_concurrent_callbacks_for_one_payment_capture_exactly_once(harness: Harness) -> None:
    h = harness
    payment_id, params, secret = await checked_out_ipn(h, "14000002", vnp_BankCode="NCB")
    query = signed_query(params, secret)
    replies = await asyncio.gather(*(h.api.get("/gateway/ipn?" + query) for _ in range(8)))
    codes = sorted(reply.json()["RspCode"] for reply in replies)
    assert codes == ["00"] + ["02"] * 7
    assert (await event_types(h, payment_id)).count("PaymentCaptured") == 1


async def test_counter_payment_then_partial_and_full_refund(harness: Harness) -> None:
    h = harness
    clerk = h.token(Role.CLERK, "can-bo-07", unit_code="VP")
    filed = await h.post(
        "/dossiers", {"procedure_code": PROCEDURE, "unit_code": "VP", "citizen_id": CITIZEN}, clerk
    )
    assert filed.status_code == 201, filed.text
    payment_id = filed.json()["payment"]["payment_id"]
    other_clerk = h.token(Role.CLERK, "can-bo-99", unit_code="VP-VY")
    cash = {"method": "counter_cash", "amount_minor": FEE, "reference": "Q-0007"}
    assert (await h.post(f"/payments/{payment_id}/counter", cash, other_clerk)).status_code == 403
    wrong = await h.post(f"/payments/{payment_id}/counter", {**cash, "amount_minor": 1}, clerk)
    assert wrong.status_code == 422 and wrong.json()["field"] == "amount_minor"
    paid = await h.post(f"/payments/{payment_id}/counter", cash, clerk)
    assert paid.json()["status"] == "succeeded" and paid.json()["receipt_number"]

    partial = {"amount_minor": 50_000, "reason": "one copy not needed"}
    assert (await h.post(f"/payments/{payment_id}/refunds", partial, clerk)).json()["status"] == (
        "partially_refunded"
    )
    too_much = {"amount_minor": FEE, "reason": "refund everything"}
    over = await h.post(f"/payments/{payment_id}/refunds", too_much, clerk)
    assert over.status_code == 422 and over.json()["code"] == "refund_exceeds_captured"
    rest = {"amount_minor": FEE - 50_000, "reason": "dossier withdrawn"}
    done = await h.post(f"/payments/{payment_id}/refunds", rest, clerk)
    assert (done.json()["status"], done.json()["refunded_minor"]) == ("refunded", FEE)


async def test_idempotent_retries_and_key_reuse(harness: Harness) -> None:
    h = harness
    body = {"procedure_code": PROCEDURE, "unit_code": "VP"}
    first = await h.post("/dossiers", body, citizen(h), key="retry-key-0001")
    again = await h.post("/dossiers", body, citizen(h), key="retry-key-0001")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content  # the very document, keys in the same order
    assert again.headers["Idempotent-Replayed"] == "true"
    head = await h.payments.store.head()
    other = await h.post("/dossiers", {**body, "quantity": 2}, citizen(h), key="retry-key-0001")
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    assert await h.payments.store.head() == head
    missing = await h.api.post("/dossiers", json=body, headers=citizen(h))
    assert missing.status_code == 422 and "Idempotency-Key" in missing.text


async def test_concurrent_twins_and_late_replays_get_the_first_answer(harness: Harness) -> None:
    """The command runs before any look-up: twins sent at once race to store their receipt with
    their events, one wins and the others answer with its response; a checkout replayed after
    the payment succeeded (so the command itself would now be refused) answers the same way."""
    h = harness
    body = {"procedure_code": PROCEDURE, "unit_code": "VP"}
    twins = await asyncio.gather(
        *(h.post("/dossiers", body, citizen(h), key="twin-key-0001") for _ in range(6))
    )
    assert {response.status_code for response in twins} == {201}
    assert all(response.json() == twins[0].json() for response in twins)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in twins) == 5
    history = await h.payments.store.read_all(0, 1000)
    assert [e.event_type for e in history].count("DossierFiled") == 1
    payment_id = twins[0].json()["payment"]["payment_id"]
    started = await h.post(f"/payments/{payment_id}/checkout", {}, citizen(h), key="co-key-0001")
    assert started.status_code == 200, started.text
    await h.pay_at_sandbox(started.json()["redirect_url"], "success")
    assert (await payment(h, payment_id))["status"] == "succeeded"
    head = await h.payments.store.head()
    late = await h.post(f"/payments/{payment_id}/checkout", {}, citizen(h), key="co-key-0001")
    assert late.status_code == 200 and late.json() == started.json()
    assert late.headers["Idempotent-Replayed"] == "true"
    refused = await checkout(h, payment_id)  # a new key: the command runs, and is refused
    assert refused.status_code >= 400
    assert await h.payments.store.head() == head


async def test_roles_are_enforced(harness: Harness) -> None:
    h = harness
    payment_id = (await file_online(h))["payment"]["payment_id"]
    head = await h.payments.store.head()
    assert (await h.api.get(f"/payments/{payment_id}")).status_code == 401
    stranger = await h.api.get(f"/payments/{payment_id}", headers=citizen(h, OTHER_CITIZEN))
    assert stranger.status_code == 403
    auditor = h.token(Role.AUDITOR, "kiem-toan-1")
    for path, body in [
        ("/dossiers", {"procedure_code": PROCEDURE, "unit_code": "VP"}),
        (f"/payments/{payment_id}/checkout", {}),
        (f"/payments/{payment_id}/refunds", {"amount_minor": 1, "reason": "because"}),
    ]:
        assert (await h.post(path, body, auditor)).status_code == 403, path
    assert (await checkout(h, payment_id, OTHER_CITIZEN)).status_code == 403
    assert await h.payments.store.head() == head


async def test_every_route_but_the_gateways_requires_a_token(harness: Harness) -> None:
    """Enumerates the OpenAPI document, so a route added later is checked too."""
    open_paths = {"/gateway/ipn", "/gateway/return"}
    samples = {"{payment_id}": str(uuid.uuid4()), "{dossier_id}": str(uuid.uuid4()),
               "{receipt_number}": "X-2026-000001"}  # fmt: skip
    checked = 0
    for path, operations in harness.api_app.openapi()["paths"].items():
        if path in open_paths:
            continue
        concrete = path
        for placeholder, value in samples.items():
            concrete = concrete.replace(placeholder, value)
        for method in operations:
            response = await harness.api.request(method.upper(), concrete, json={})
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"
            checked += 1
    assert checked >= 13


async def test_payment_events_reach_kafka_in_order(
    harness: Harness, settings: Settings, kafka_topics: list[str]
) -> None:
    h = harness
    payment_ids = []
    for _ in range(3):
        payment_id = (await file_online(h))["payment"]["payment_id"]
        started = await checkout(h, payment_id)
        await h.pay_at_sandbox(started.json()["redirect_url"], "success")
        payment_ids.append(payment_id)
    runtime = h.api_app.state.runtime
    producer = create_producer(settings.kafka_bootstrap_servers, "test-payments-relay")
    await producer.start()
    try:
        relay = OutboxRelay(runtime.pool, runtime.store, producer, runtime.router)
        while await relay.relay_once():
            pass
    finally:
        await producer.stop()
    wanted = {
        str(envelope.event_id)
        for payment_id in payment_ids
        for envelope in await runtime.store.read_stream(f"payment-{payment_id}")
    }
    records = await consume_until(settings.kafka_bootstrap_servers, kafka_topics, wanted)
    versions: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelope = envelope_from_message(record.value)
        if envelope.stream_id.startswith("payment-"):
            versions[envelope.stream_id].append(envelope.stream_version)
    assert sorted(versions) == sorted(f"payment-{p}" for p in payment_ids)
    assert all(found == [1, 2, 3, 4] for found in versions.values())


async def test_payment_search_follows_each_payment_to_its_latest_state_page_by_page(
    harness: Harness,
) -> None:
    """GET /payments reads the payments view, which the projector rebuilds from the events of
    each payment a batch touches: three paid, two left requested, searched in pages of two."""
    h = harness
    paid_ids, open_ids = set(), set()
    for number in range(5):
        filed = await file_online(h)
        payment_id = filed["payment"]["payment_id"]
        if number % 2 == 0:
            started = await checkout(h, payment_id)
            await h.pay_at_sandbox(started.json()["redirect_url"], "success")
            paid_ids.add(payment_id)
        else:
            open_ids.add(payment_id)
    await file_online(h, OTHER_CITIZEN)
    await h.catch_up_views()

    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"status": "succeeded", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await h.api.get("/payments", params=params, headers=citizen(h))
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert {item["payment_id"] for item in found} == paid_ids
    assert all(item["receipt_number"] for item in found)
    requested = await h.api.get("/payments", params={"status": "requested"}, headers=citizen(h))
    assert {item["payment_id"] for item in requested.json()["items"]} == open_ids
    # Time filters are instants: a time without its zone would be read in the server's zone.
    naive = await h.api.get(
        "/payments", params={"requested_from": "2026-11-24T08:00:00"}, headers=citizen(h)
    )
    assert naive.status_code == 422 and naive.json()["field"] == "query.requested_from"
    hanoi = await h.api.get(
        "/payments", params={"requested_from": "2000-01-01T08:00:00+07:00"}, headers=citizen(h)
    )
    assert len(hanoi.json()["items"]) == len(paid_ids) + len(open_ids)


async def test_a_status_query_keeps_the_gateways_signed_answer_as_evidence(
    harness: Harness,
) -> None:
    """Finance asks the gateway about a payment whose callback has not come: the capture it
    records points at evidence holding the gateway's answer byte for byte, which verifies
    again with the secret version recorded beside it (it used to hold a Python repr)."""
    h = harness
    filed = await file_online(h)
    payment_id = filed["payment"]["payment_id"]
    started = await checkout(h, payment_id)
    await h.open_pay_page(started.json()["redirect_url"], "late")  # paid; the IPN comes later
    finance = h.token(Role.FINANCE, "lan")
    queried = await h.api.post(f"/payments/{payment_id}/status-query", headers=finance)
    assert queried.status_code == 200, queried.text
    assert queried.json()["status"] == "succeeded"
    row = await h.api_app.state.runtime.pool.fetchrow(
        "SELECT raw_request, secret_version FROM gateway_callback_evidence "
        "WHERE channel = 'status_query'"
    )
    assert row is not None
    answer = json.loads(bytes(row["raw_request"]))
    secret = h.settings.gateway_secrets[row["secret_version"]].get_secret_value().encode()
    assert verify_querydr_response(json_strings(answer), secret)
    await h.sandbox_app.state.sandbox.drain()  # the late IPN: answered as already confirmed


async def test_signed_callbacks_the_merchant_cannot_take_are_kept_and_flagged(
    harness: Harness,
) -> None:
    """Signed by the gateway, but in another currency: flagged (04), nothing captured. Signed,
    but a success without its payment time: unreadable, so nothing is decided (99), but the
    bytes are kept as evidence for a person (they used to be dropped)."""
    h = harness
    payment_id, params, secret = await checked_out_ipn(h, "14000003", vnp_CurrCode="USD")
    dollars = await h.api.get("/gateway/ipn?" + signed_query(params, secret))
    assert dollars.json()["RspCode"] == "04"
    assert "GatewayCallbackFlagged" in await event_types(h, payment_id)
    head = await h.payments.store.head()
    undated = {k: v for k, v in params.items() if k not in ("vnp_PayDate", "vnp_CurrCode")}
    unreadable = await h.api.get("/gateway/ipn?" + signed_query(undated, secret))
    assert unreadable.json()["RspCode"] == "99"
    assert await h.payments.store.head() == head
    kept = await h.api_app.state.runtime.pool.fetch(
        "SELECT verification_result FROM gateway_callback_evidence WHERE order_ref = $1 "
        "ORDER BY received_at, verification_result",
        params["vnp_TxnRef"],
    )
    results = [row["verification_result"] for row in kept]
    assert "verified" in results
    assert any(
        r.startswith("verified_unreadable: gateway callback field vnp_PayDate") for r in results
    )
    assert (await payment(h, payment_id))["status"] == "pending"


async def waiting_for_refund(h: Harness) -> list[str]:
    """The payments whose flagged money suspense holds, as finance lists them."""
    await h.catch_up_views()
    listed = await h.api.get(
        "/payments", params={"holds_flagged_money": "true"}, headers=h.token(Role.FINANCE, "kt")
    )
    assert listed.status_code == 200, listed.text
    return [item["payment_id"] for item in listed.json()["items"]]


async def test_money_paid_twice_waits_in_suspense_until_a_clerk_refunds_it(
    harness: Harness,
) -> None:
    """The first order was reported failed, the citizen paid a second one, then the first turned
    out paid after all: its money is flagged and held, shown on the payment, and a clerk of the
    unit (not the citizen, nor another unit's clerk) gives it back, whole and once."""
    h = harness
    payment_id = (await file_online(h))["payment"]["payment_id"]
    first = (await checkout(h, payment_id)).json()
    await h.pay_at_sandbox(first["redirect_url"], "failure")
    second = (await checkout(h, payment_id)).json()
    await h.pay_at_sandbox(second["redirect_url"], "success")
    secret = h.settings.gateway_secrets["v1"].get_secret_value().encode()
    paid_after_all = {
        "vnp_TmnCode": h.settings.gateway_tmn_code, "vnp_TxnRef": first["order_ref"],
        "vnp_Amount": str(FEE * 100), "vnp_ResponseCode": "00", "vnp_TransactionStatus": "00",
        "vnp_TransactionNo": "14000777", "vnp_PayDate": "20261124093000",
    }  # fmt: skip
    answer = await h.api.get("/gateway/ipn?" + signed_query(paid_after_all, secret))
    assert answer.json()["RspCode"] == "02"  # already confirmed: the fee was paid
    held = await payment(h, payment_id)
    [(evidence_id, amount)] = held["flagged_money_held"].items()
    assert (held["status"], held["captured_minor"], amount) == ("succeeded", FEE, FEE)
    await file_online(h)  # another payment, holding nothing
    assert await waiting_for_refund(h) == [payment_id]

    path = f"/payments/{payment_id}/flagged-money/{evidence_id}/refund"
    reason = {"reason": "paid twice: order failed, then paid"}
    for refused_by in (citizen(h), h.token(Role.CLERK, "can-bo-99", unit_code="VP-VY")):
        refused = await h.post(path, reason, refused_by)
        assert refused.status_code == 403, refused.text
    clerk = h.token(Role.CLERK, "can-bo-07", unit_code="VP")
    refunded = await h.post(path, reason, clerk, key="refund-twice-1")
    assert refunded.status_code == 200, refunded.text
    body = refunded.json()
    assert (body["flagged_money_held"], body["captured_minor"], body["refunded_minor"]) == (
        {}, FEE, 0,
    )  # fmt: skip
    replayed = await h.post(path, reason, clerk, key="refund-twice-1")
    assert replayed.json() == body and replayed.headers["Idempotent-Replayed"] == "true"
    assert await waiting_for_refund(h) == []
    again = await h.post(path, reason, clerk)
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    types = await event_types(h, payment_id)
    assert types.count("GatewayCallbackFlagged") == types.count("FlaggedMoneyRefunded") == 1
    envelopes = await h.payments.store.read_stream(f"payment-{payment_id}")
    [given_back] = [e.payload for e in envelopes if e.event_type == "FlaggedMoneyRefunded"]
    assert (given_back["order_ref"], given_back["amount"]["amount_minor"]) == (
        first["order_ref"], FEE,
    )  # fmt: skip
    assert given_back["approved_by"] == "can-bo-07"
