"""Fuzzes the running HTTP API from its own OpenAPI document (schemathesis + hypothesis): for any
generated request, by any role, the API never answers 5xx, and a request it rejects (4xx) leaves
the event store exactly as it was. The API runs as a real uvicorn process on the real PostgreSQL."""

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.settings import REPOSITORY_ROOT, load_settings

FUZZ_PORT = 58300
FUZZ_EXAMPLES_MAX = 400
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RunningApi:
    base_url: str
    dsn: str
    schema: str
    tokens: list[str]


def _head(api: RunningApi) -> int:
    async def read() -> int:
        connection = await asyncpg.connect(api.dsn, server_settings={"search_path": api.schema})
        try:
            return int(await connection.fetchval("SELECT last_position FROM event_store_head"))
        finally:
            await connection.close()

    return asyncio.run(read())


def _run(*arguments: str, environment: dict[str, str]) -> str:
    done = subprocess.run(
        [str(REPOSITORY_ROOT / ".venv" / "bin" / "fees"), *arguments],
        cwd=REPOSITORY_ROOT, env=environment, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def _admin(dsn: str, statement: str) -> None:
    async def execute() -> None:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        asyncio.run(execute())
    except (OSError, asyncpg.PostgresError) as error:
        pytest.fail(f"PostgreSQL is not reachable ({error}); start it with `make up`")


@pytest.fixture(scope="module")
def running_api() -> Iterator[RunningApi]:
    base = load_settings()
    dsn = base.database_dsn.get_secret_value()
    schema = f"fuzz_{uuid.uuid4().hex[:8]}"
    _admin(dsn, f'CREATE SCHEMA "{schema}"')
    environment = {**os.environ, "FEES_DATABASE_SCHEMA": schema, "FEES_HTTP_PORT": str(FUZZ_PORT),
                   "FEES_LOG_LEVEL": "warning"}  # fmt: skip
    server = None
    try:
        _run("migrate", environment=environment)
        tokens = [
            _run("token", "citizen", "079123456789", environment=environment),
            _run("token", "clerk", "can-bo-1", "--unit", "VP", environment=environment),
            _run("token", "finance", "ke-toan-1", environment=environment),
            _run("token", "auditor", "kiem-toan-1", environment=environment),
        ]
        server = subprocess.Popen(
            [str(REPOSITORY_ROOT / ".venv" / "bin" / "fees"), "serve"],
            cwd=REPOSITORY_ROOT, env=environment, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{FUZZ_PORT}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/openapi.json").status_code == 200:
                    break
            if server.poll() is not None:
                pytest.fail("the API process exited during start-up")
            time.sleep(0.2)
        yield RunningApi(base_url, dsn, schema, tokens)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        _admin(dsn, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_no_server_errors_and_rejections_change_nothing(running_api: RunningApi) -> None:
    api_schema = schemathesis.openapi.from_url(f"{running_api.base_url}/openapi.json")
    strategy = api_schema.as_strategy()
    seen_statuses: set[int] = set()

    @settings(
        max_examples=FUZZ_EXAMPLES_MAX, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=strategy, token=st.sampled_from(running_api.tokens))
    def call(case: schemathesis.Case, token: str) -> None:
        before = _head(running_api)
        response = case.call(
            base_url=running_api.base_url, headers={"Authorization": f"Bearer {token}"}
        )
        seen_statuses.add(response.status_code)
        assert response.status_code < 500, f"{case.method} {case.path}: {response.text[:500]}"
        if response.status_code >= 400:
            assert _head(running_api) == before, f"{case.method} {case.path} rejected, but wrote"

    call()
    # The fuzzer reached both sides: accepted requests and rejected ones.
    assert any(status < 300 for status in seen_statuses)
    assert any(status >= 400 for status in seen_statuses)
