"""Benchmark (issue #3): dossiers filed and paid per second through the running HTTP API.

Starts the API (`fees serve`) and the sandbox gateway as real processes on their own ports and a
fresh database schema, then drives them with concurrent clients over real HTTP. One journey:
POST /dossiers -> POST /payments/{id}/checkout -> GET the sandbox pay page (the sandbox sends the
signed IPN to /gateway/ipn and redirects) -> the payment is captured with a receipt.

Prints `bench: paid_dossiers_per_s`, `bench: request_p50_ms`, `bench: request_p99_ms` (client
requests: file, checkout, pay page) and `bench: requests_per_s`. A dossier counts as paid when its
PaymentCaptured event is in the store. Bounded: --dossiers journeys, at most --timeout-s seconds.

    .venv/bin/python bench/payments_http.py [--dossiers 4000] [--concurrency 32] [--workers 1]
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx

from entrypoints.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
API_PORT, SANDBOX_PORT = 58100, 59200
READY_TIMEOUT_S = 60.0
PROCEDURES = ("TP-LLTP-01", "TP-CT-01")


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{url}: process exited with {process.returncode}")
            with suppress(httpx.HTTPError):
                if (await client.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} not ready in {READY_TIMEOUT_S}s")


def start(command: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=sink, stderr=sink)


async def journey(
    client: aiohttp.ClientSession, token: str, latencies: list[float], failures: list[str]
) -> None:
    """One citizen: file, check out, open the pay page (aiohttp: a light client, so the load
    generator does not eat the CPU the API needs on the same two cores)."""
    headers = {"Authorization": f"Bearer {token}"}
    api = f"http://127.0.0.1:{API_PORT}"

    async def timed(method: str, url: str, **options: Any) -> tuple[int, Any]:
        started = time.perf_counter()
        async with client.request(method, url, allow_redirects=False, **options) as response:
            body = await response.json() if response.content_type == "application/json" else None
            latencies.append(time.perf_counter() - started)
            return response.status, body

    key = {**headers, "Idempotency-Key": f"bench-{uuid.uuid4()}"}
    status, filed = await timed(
        "POST", f"{api}/dossiers", json={"procedure_code": "TP-LLTP-01", "unit_code": "VP"},
        headers=key,
    )  # fmt: skip
    if status != 201:
        failures.append(f"file {status} {filed}")
        return
    payment_id = filed["payment"]["payment_id"]
    key = {**headers, "Idempotency-Key": f"bench-{uuid.uuid4()}"}
    status, started = await timed(
        "POST", f"{api}/payments/{payment_id}/checkout", json={}, headers=key
    )
    if status != 200:
        failures.append(f"checkout {status} {started}")
        return
    status, _ = await timed("GET", started["redirect_url"])
    if status != 302:
        failures.append(f"pay page {status}")


async def count_captured(dsn: str, schema: str) -> int:
    connection = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM events WHERE event_type = 'PaymentCaptured'"
            )
        )
    finally:
        await connection.close()


async def run(arguments: argparse.Namespace) -> None:
    settings = load_settings()
    dsn = settings.database_dsn.get_secret_value()
    schema = f"bench_http_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    environment = {
        **os.environ,
        "FEES_DATABASE_SCHEMA": schema,
        "FEES_HTTP_PORT": str(API_PORT),
        "FEES_PUBLIC_BASE_URL": f"http://127.0.0.1:{API_PORT}",
        "FEES_GATEWAY_PAY_URL": f"http://127.0.0.1:{SANDBOX_PORT}/paymentv2/vpcpay.html",
        "FEES_GATEWAY_API_URL": f"http://127.0.0.1:{SANDBOX_PORT}/merchant_webapi/api/transaction",
        "FEES_SANDBOX_MERCHANT_IPN_URL": f"http://127.0.0.1:{API_PORT}/gateway/ipn",
        "FEES_LOG_LEVEL": "warning",
        "FEES_DATABASE_POOL_SIZE_MAX": "20",
    }
    fees = str(ROOT / ".venv" / "bin" / "fees")
    await asyncio.to_thread(
        subprocess.run, [fees, "migrate"], cwd=ROOT, env=environment, check=True,
        capture_output=True,
    )  # fmt: skip
    logs = ROOT / ".stack" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api = start(
        [fees, "serve", "--workers", str(arguments.workers)], environment, logs / "bench-api.log"
    )
    sandbox = start(
        [sys.executable, "-m", "payments.sandbox", "--port", str(SANDBOX_PORT),
         "--log-level", "warning"],
        environment, logs / "bench-sandbox.log",
    )  # fmt: skip
    try:
        await wait_ready(f"http://127.0.0.1:{API_PORT}/openapi.json", api)
        await wait_ready(f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/orders/none", sandbox)
        issued = await asyncio.to_thread(
            subprocess.run, [fees, "token", "citizen", "079123456789"], cwd=ROOT,
            env=environment, check=True, capture_output=True, text=True,
        )  # fmt: skip
        token = issued.stdout.strip()
        latencies: list[float] = []
        failures: list[str] = []
        connector = aiohttp.TCPConnector(limit=arguments.concurrency)
        async with aiohttp.ClientSession(connector=connector) as client:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for index in range(arguments.dossiers):
                queue.put_nowait(index)

            async def worker() -> None:
                while not queue.empty():
                    queue.get_nowait()
                    await journey(client, token, latencies, failures)

            began = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(*(worker() for _ in range(arguments.concurrency))),
                timeout=arguments.timeout_s,
            )
            # The last IPNs are still travelling: wait until every capture is in the store.
            deadline = time.monotonic() + 30
            paid = await count_captured(dsn, schema)
            while paid < arguments.dossiers - len(failures) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                paid = await count_captured(dsn, schema)
            elapsed = time.perf_counter() - began
    finally:
        for process in (api, sandbox):
            process.terminate()
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()

    latencies.sort()
    print(f"journeys: {arguments.dossiers}, paid: {paid}, failed: {len(failures)}, "
          f"concurrency {arguments.concurrency}, API workers {arguments.workers}")  # fmt: skip
    for failure in failures[:5]:
        print(f"  failure: {failure}")
    print(f"bench: paid_dossiers_per_s {paid / elapsed:.0f}")
    print(f"bench: requests_per_s {len(latencies) / elapsed:.0f}")
    print(f"bench: request_p50_ms {statistics.median(latencies) * 1000:.1f}")
    print(f"bench: request_p99_ms {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--timeout-s", type=float, default=300.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
