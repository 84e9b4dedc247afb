"""The reconciliation HTTP API on the real PostgreSQL: a camt.053 file imported once (the second
upload answered idempotently, a broken file refused whole with its XML path), roles enforced
(citizens nothing, auditors read only), a run, the report as JSON, CSV and HTML, maker-checker
on a large write-off, and the day's close and lock."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from entrypoints.settings import Settings
from reconciliation.adapters.statement_writers import camt053
from reconciliation.simulation import numbered
from schemas.api.auth import Role
from tests.integration.api_harness import Harness, running_api
from tests.integration.recon_harness import (
    ACCOUNT,
    SETTLEMENT_DAY,
    simulate_payment_day,
    simulated_settlement,
)

DAY_PATH = f"/reconciliation/days/{ACCOUNT}/{SETTLEMENT_DAY}"


@pytest.fixture
async def harness(settings: Settings, database: Any) -> AsyncIterator[Harness]:
    async with running_api(settings) as running:
        yield running


def finance(h: Harness, name: str = "lan") -> dict[str, str]:
    return h.token(Role.FINANCE, name)


async def upload(h: Harness, content: bytes, name: str) -> Any:
    return await h.api.post(
        "/reconciliation/imports", params={"format": "camt053", "file_name": name},
        content=content, headers={**finance(h), "Content-Type": "application/octet-stream"},
    )  # fmt: skip


async def test_finance_reconciles_a_day_over_http(harness: Harness) -> None:
    h = harness
    rt = h.api_app.state.runtime
    reconciler = h.api_app.state.reconciliation.reconciler
    bank = await simulated_settlement(rt, reconciler, 150, bank_seed=9)
    content = camt053(numbered(bank.lines), "STMT20261125", SETTLEMENT_DAY)

    broken = content.replace(b'<Amt Ccy="VND">', b'<Amt Ccy="USD">', 1)
    refused = await upload(h, broken, "broken.xml")
    assert refused.status_code == 422, refused.text
    assert refused.json()["location"] == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt"
    first, second = await upload(h, content, "day.xml"), await upload(h, content, "again.xml")
    assert first.status_code == second.status_code == 201
    assert second.json() == {**first.json(), "already_imported": True}
    assert await rt.pool.fetchval("SELECT count(*) FROM recon_files") == 1

    citizen = h.token(Role.CITIZEN, "079123456789")
    auditor = h.token(Role.AUDITOR, "kt-1")
    assert (await h.api.get(DAY_PATH, headers=citizen)).status_code == 403
    assert (await h.api.post(f"{DAY_PATH}/runs", headers=auditor)).status_code == 403
    run = await h.api.post(f"{DAY_PATH}/runs", headers=finance(h))
    assert run.status_code == 201, run.text

    report = (await h.api.get(DAY_PATH, headers=auditor)).json()
    kinds = {entry["kind"]: entry["count"] for entry in report["exceptions_by_kind"]}
    assert kinds == {"duplicate_settlement": 1, "not_settled": 2, "unmatched_bank_line": 1}
    assert (
        report["expected_net_minor"]
        == report["expected_gross_minor"] - report["expected_fee_minor"]
    )
    queue = await h.api.get(f"/reconciliation/accounts/{ACCOUNT}/exceptions", headers=auditor)
    assert sorted(e["kind"] for e in queue.json()) == [
        "duplicate_settlement",
        "not_settled",
        "not_settled",
        "unmatched_bank_line",
    ]
    assert all(e["business_date"] == str(SETTLEMENT_DAY) for e in queue.json())
    csv_text = (await h.api.get(f"{DAY_PATH}/report.csv", headers=auditor)).text
    assert "exceptions,not_settled,2," in csv_text
    assert "<svg" in (await h.api.get(f"{DAY_PATH}/report.html", headers=auditor)).text

    unknown = next(e for e in report["exceptions"] if e["kind"] == "unmatched_bank_line")
    duplicate = next(e for e in report["exceptions"] if e["kind"] == "duplicate_settlement")
    closing = await h.api.post(f"{DAY_PATH}/close", headers=finance(h))
    assert closing.status_code == 409 and closing.json()["code"] == "day_not_ready"
    waited = 0
    for exception in (unknown, duplicate):
        body = {"kind": "write_off", "line_keys": exception["line_keys"], "reason": "not ours"}
        decided = await h.api.post(f"{DAY_PATH}/decisions", json=body, headers=finance(h))
        assert decided.status_code == 201, decided.text
        decision = decided.json()
        if decision["status"] == "pending":
            waited += 1
            path = f"{DAY_PATH}/decisions/{decision['decision_id']}/approve"
            own = await h.api.post(path, json={"reason": "mine"}, headers=finance(h))
            assert own.status_code == 403 and own.json()["code"] == "four_eyes_required"
            other = await h.api.post(path, json={"reason": "checked"}, headers=finance(h, "minh"))
            assert other.status_code == 200 and other.json()["status"] == "applied"
    assert waited >= 1  # the unknown credit is above the approval limit: it needed a checker
    assert (await h.api.post(f"{DAY_PATH}/close", headers=finance(h))).status_code == 204
    locked = await h.api.post(f"{DAY_PATH}/runs", headers=finance(h))
    assert locked.status_code == 409 and locked.json()["code"] == "day_closed"
    closed = (await h.api.get(DAY_PATH, headers=auditor)).json()
    assert (closed["status"], closed["closed_by"]) == ("closed", "finance:lan")


async def test_auditors_read_trails_states_at_a_time_and_the_chain(harness: Harness) -> None:
    h = harness
    rt = h.api_app.state.runtime
    await simulate_payment_day(rt, 40)
    auditor = h.token(Role.AUDITOR, "kt-1")
    captured = await rt.pool.fetchrow(
        "SELECT stream_id, position, recorded_at FROM events "
        "WHERE event_type = 'PaymentCaptured' ORDER BY position LIMIT 1"
    )
    payment_id = captured["stream_id"].removeprefix("payment-")
    assert (await h.api.get(f"/audit/payments/{payment_id}", headers=finance(h))).status_code == 403

    trail = (await h.api.get(f"/audit/trail/payment/{payment_id}", headers=auditor)).json()
    types = [entry["event_type"] for entry in trail]
    assert types[0] == "DossierFiled" and "PaymentCaptured" in types
    assert [entry["position"] for entry in trail] == sorted(entry["position"] for entry in trail)

    # A batch commits at one instant: just before it, the payment did not exist yet.
    before = captured["recorded_at"] - timedelta(microseconds=1)
    then = await h.api.get(f"/audit/payments/{payment_id}", params={"at": before.isoformat()},
                           headers=auditor)  # fmt: skip
    now = await h.api.get(f"/audit/payments/{payment_id}", headers=auditor)
    assert then.status_code == 404 and "did not exist" in then.json()["detail"]
    assert now.json()["status"] == "succeeded" and now.json()["captured_minor"] > 0
    assert now.json()["position"] >= captured["position"]

    chain = (await h.api.get("/audit/chain", headers=auditor)).json()
    assert chain["intact"] and chain["checked_count"] == chain["head_position"] > 0
