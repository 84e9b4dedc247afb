"""The payments API and the sandbox gateway in one process, calling each other over in-process
HTTP (ASGI transports): checkout -> the sandbox's pay page -> signed IPN back to the API.

Nothing is stubbed: both apps are the production code; only the network hop between them is an
ASGI transport instead of a socket. The demo pays its online dossiers through it, and the
integration tests drive the payment journeys with it.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from entrypoints.http import create_app
from entrypoints.settings import Settings
from events.clock_and_ids import Clock
from payments.sandbox.app import Outcome, SandboxConfig, create_sandbox_app

API_BASE = "http://api.test"
SANDBOX_BASE = "http://sandbox.test"


class _Forward:
    """An ASGI app that forwards to one set later (the two apps call each other)."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@dataclass
class ApiAndSandbox:
    api_app: FastAPI
    api: httpx.AsyncClient
    sandbox_app: FastAPI
    sandbox: httpx.AsyncClient

    async def pay(self, redirect_url: str, outcome: Outcome) -> httpx.Response:
        """Choose the order's outcome, open its pay page like a browser, and wait until the
        sandbox delivered every callback it sends for it."""
        order_ref = httpx.URL(redirect_url).params["vnp_TxnRef"]
        chosen = await self.sandbox.post(
            "/sandbox/outcomes", json={"txn_ref": order_ref, "outcome": outcome}
        )
        chosen.raise_for_status()
        page = await self.sandbox.get(httpx.URL(redirect_url).raw_path.decode())
        await self.sandbox_app.state.sandbox.drain()
        return page


@asynccontextmanager
async def api_and_sandbox(
    settings: Settings, clock: Clock, *, late_delay_s: float = 2.0,
    outcome_weights: Mapping[Outcome, int] | None = None,
) -> AsyncIterator[ApiAndSandbox]:  # fmt: skip
    to_sandbox, to_api = _Forward(), _Forward()
    api_app = create_app(
        settings, clock=clock, gateway_transport=httpx.ASGITransport(app=to_sandbox),
        background=False,
    )  # fmt: skip
    secret = settings.gateway_secrets[settings.gateway_current_secret_version]
    sandbox_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=to_api), base_url=API_BASE)
    sandbox_app = create_sandbox_app(
        SandboxConfig(
            tmn_code=settings.gateway_tmn_code, secret=secret.get_secret_value().encode(),
            merchant_ipn_url=f"{API_BASE}/gateway/ipn", late_delay_s=late_delay_s,
            ipn_retry_delay_s=0.01, outcome_weights=dict(outcome_weights or {}),
        ),
        http=sandbox_http, clock=clock.now,
    )  # fmt: skip
    to_sandbox.app, to_api.app = sandbox_app, api_app
    try:
        async with (
            api_app.router.lifespan_context(api_app),
            sandbox_app.router.lifespan_context(sandbox_app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url=API_BASE) as api,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=sandbox_app), base_url=SANDBOX_BASE
            ) as sandbox,
        ):
            yield ApiAndSandbox(api_app, api, sandbox_app, sandbox)
    finally:
        await sandbox_http.aclose()
