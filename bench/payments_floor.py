"""The floor under issue #3's target: the payment journey's HTTP hops with nothing behind them.

`bench/payments_http.py` drives the real API and sandbox gateway. This drives a hollow pair on the
same ports and over the same journey (`payments_http.journey`): a FastAPI API whose three routes
(file, checkout, IPN) answer at once, and a FastAPI gateway whose pay page sends the IPN to the
API and redirects. No database, no events, no signatures, no logic: what it reaches is what the
machine gives for the HTTP plumbing alone, the most the real service could ever reach here.

Prints `bench: hollow_journeys_per_s` and the CPU each process spent per journey.

    .venv/bin/python bench/payments_floor.py [--journeys 8000] [--concurrency 32] [--uvloop]
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import aiohttp
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from payments_http import API_PORT, SANDBOX_PORT, journey, start, wait_ready  # beside this one
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
IPN_CONNECTIONS_MAX = 64


class FileDossier(BaseModel):
    procedure_code: str
    unit_code: str


class Checkout(BaseModel):
    locale: str = "vn"


def hollow_api() -> FastAPI:
    app = FastAPI()

    @app.post("/dossiers", status_code=201)
    async def file_dossier(body: FileDossier) -> dict[str, object]:
        return {"dossier_id": str(uuid.uuid4()), "payment": {"payment_id": str(uuid.uuid4())}}

    @app.post("/payments/{payment_id}/checkout")
    async def checkout(payment_id: uuid.UUID, body: Checkout) -> dict[str, str]:
        pay_page = f"http://127.0.0.1:{SANDBOX_PORT}/pay?vnp_TxnRef={payment_id}"
        return {"payment_id": str(payment_id), "redirect_url": pay_page}

    @app.get("/gateway/ipn")
    async def ipn(vnp_TxnRef: str, vnp_Amount: int) -> dict[str, str]:
        return {"RspCode": "00", "Message": "Confirm Success"}

    return app


def hollow_gateway() -> FastAPI:
    sessions: list[aiohttp.ClientSession] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=IPN_CONNECTIONS_MAX)
        async with aiohttp.ClientSession(connector=connector) as session:
            sessions.append(session)
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/pay")
    async def pay(vnp_TxnRef: str) -> RedirectResponse:
        ipn = f"http://127.0.0.1:{API_PORT}/gateway/ipn?vnp_TxnRef={vnp_TxnRef}&vnp_Amount=1"
        async with sessions[0].get(ipn) as answer:
            await answer.read()
        return RedirectResponse(f"http://127.0.0.1:{API_PORT}/return", status_code=302)

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    return app


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(arguments: argparse.Namespace, servers: dict[str, subprocess.Popen[bytes]]) -> None:
    await wait_ready(f"http://127.0.0.1:{API_PORT}/openapi.json", servers["api"])
    await wait_ready(f"http://127.0.0.1:{SANDBOX_PORT}/ready", servers["gateway"])
    latencies: list[float] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=arguments.concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        remaining = [arguments.journeys]

        async def worker() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                await journey(client, "hollow", latencies, failures)

        before = {name: cpu_seconds(server.pid) for name, server in servers.items()}
        own_before, began = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(arguments.concurrency)))
        elapsed = time.perf_counter() - began
        spent = {name: cpu_seconds(server.pid) - before[name] for name, server in servers.items()}
        spent["load generator"] = time.process_time() - own_before
    if failures:
        raise SystemExit(f"{len(failures)} journeys failed, first: {failures[0]}")
    done = arguments.journeys
    print(f"journeys: {done} in {elapsed:.1f} s, concurrency {arguments.concurrency}")
    for name, seconds in spent.items():
        print(f"  {name}: {seconds * 1000 / done:.2f} ms CPU per journey")
    print(f"  all three: {sum(spent.values()) * 1000 / done:.2f} ms CPU per journey")
    print(f"bench: hollow_journeys_per_s {done / elapsed:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--uvloop", action="store_true", help="serve with uvloop and httptools (install them)"
    )
    parser.add_argument("--serve", choices=("api", "gateway"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        import uvicorn

        app = hollow_api() if arguments.serve == "api" else hollow_gateway()
        port = API_PORT if arguments.serve == "api" else SANDBOX_PORT
        # "auto", as `fees serve` runs: uvloop and httptools only where they are installed.
        loop, http = ("uvloop", "httptools") if arguments.uvloop else ("auto", "auto")
        uvicorn.run(app, port=port, log_level="warning", access_log=False, loop=loop, http=http)
        return
    logs = ROOT / ".stack" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    servers = {
        role: start(
            [
                sys.executable,
                __file__,
                "--serve",
                role,
                *(["--uvloop"] if arguments.uvloop else []),
            ],
            dict(os.environ),
            logs / f"bench-floor-{role}.log",
        )
        for role in ("api", "gateway")
    }
    try:
        asyncio.run(drive(arguments, servers))
    finally:
        for server in servers.values():
            server.terminate()
            with suppress(subprocess.TimeoutExpired):
                server.wait(timeout=15)


if __name__ == "__main__":
    main()
