"""The whole payments API in process, on the real PostgreSQL (a throwaway schema), wired to the
sandbox gateway over in-process HTTP both ways: checkout -> sandbox pay page -> signed IPN back.

Nothing is mocked: the API, the sandbox and the store are the production code; only the network
hop between the two apps is an ASGI transport instead of a socket.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from entrypoints.http import sweep_once
from entrypoints.in_process import api_and_sandbox
from entrypoints.settings import Settings
from events.clock_and_ids import FixedClock
from payments.entrypoints.api import PaymentsApi
from schemas.api.auth import Principal, Role

START_AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi
# The "late" outcome's IPN waits this long (real time), so a test can expire the payment first.
LATE_CALLBACK_DELAY_S = 1.0


@dataclass
class Harness:
    api_app: FastAPI
    api: httpx.AsyncClient
    sandbox_app: FastAPI
    sandbox: httpx.AsyncClient
    clock: FixedClock
    settings: Settings

    @property
    def payments(self) -> PaymentsApi:
        state: PaymentsApi = self.api_app.state.payments
        return state

    def token(self, role: Role, subject: str, unit_code: str | None = None) -> dict[str, str]:
        principal = Principal(subject=subject, role=role, unit_code=unit_code)
        token = self.api_app.state.tokens.issue(principal, datetime.now(UTC))
        return {"Authorization": f"Bearer {token}"}

    async def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str], key: str | None = None
    ) -> httpx.Response:
        keyed = {**headers, "Idempotency-Key": key or f"key-{uuid.uuid4()}"}
        return await self.api.post(path, json=body, headers=keyed)

    async def open_pay_page(self, redirect_url: str, outcome: str) -> httpx.Response:
        """Choose the order's outcome and open the pay page like a browser (IPNs start)."""
        order_ref = httpx.URL(redirect_url).params["vnp_TxnRef"]
        chosen = await self.sandbox.post(
            "/sandbox/outcomes", json={"txn_ref": order_ref, "outcome": outcome}
        )
        assert chosen.status_code == 200, chosen.text
        return await self.sandbox.get(redirect_url.replace("http://127.0.0.1:59100", ""))

    async def pay_at_sandbox(self, redirect_url: str, outcome: str) -> httpx.Response:
        """Open the pay page and wait until the sandbox delivered every IPN."""
        page = await self.open_pay_page(redirect_url, outcome)
        await self.sandbox_app.state.sandbox.drain()
        return page

    async def catch_up_views(self) -> None:
        await self.api_app.state.projector.catch_up()

    async def sweep(self) -> int:
        api = self.payments
        await self.catch_up_views()
        return await sweep_once(api.payments, api.queries, self.clock, api.new_ids)


@asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Harness]:
    clock = FixedClock(START_AT)
    async with api_and_sandbox(settings, clock, late_delay_s=LATE_CALLBACK_DELAY_S) as both:
        yield Harness(both.api_app, both.api, both.sandbox_app, both.sandbox, clock, settings)
