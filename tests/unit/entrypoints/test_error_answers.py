"""Proves how the API answers failures below it: the database's own words (table and column
names, its messages) never reach a caller; a value the database refuses is the caller's 422;
a database or store that fails is a 503 problem document, a fault of ours a 500, never text."""

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from entrypoints.http import create_app
from entrypoints.settings import Settings
from events.errors import (
    DuplicateCommandError,
    EventValidationError,
    InfrastructureError,
    UnknownEventTypeError,
)

DATABASE_WORDS = (
    "character varying", "metric_daily", "relation", "connection was closed", "55432",
)  # fmt: skip


def failing_app() -> FastAPI:
    settings = Settings(
        database_dsn="postgresql://nobody@127.0.0.1:1/none",
        auth_token_secret="s" * 40,
        gateway_secrets={"v1": "g" * 32},
    )
    app = create_app(settings, background=False)
    too_long = asyncpg.StringDataRightTruncationError("value too long for type character varying")

    failures: dict[str, Exception] = {
        "refused-value": InfrastructureError(f"append failed: {too_long}"),
        "store-down": InfrastructureError("append failed: connection was closed"),
        "no-table": asyncpg.UndefinedTableError('relation "metric_daily" does not exist'),
        "lost": asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        "timeout": TimeoutError(),
        "refused": ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 55432)"),
        "unknown-type": UnknownEventTypeError("PaymentTeleported", 3),
        "answered": DuplicateCommandError("payments", "key-1"),
        "bad-event": EventValidationError("PaymentCaptured", [("payload.reason", "too long")]),
    }
    failures["refused-value"].__cause__ = too_long

    for name, failure in failures.items():
        app.add_api_route(f"/test/{name}", raising(failure))
    return app


def raising(failure: Exception):  # type: ignore[no-untyped-def]
    async def fail() -> None:
        raise failure

    return fail


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("refused-value", 422, "invalid_input"),
        ("store-down", 503, "infrastructure"),
        ("no-table", 503, "database_unavailable"),
        ("lost", 503, "database_unavailable"),
        ("timeout", 503, "database_unavailable"),
        ("refused", 503, "database_unavailable"),
        ("unknown-type", 500, "unknown_event_type"),
        ("answered", 409, "duplicate_command"),
        ("bad-event", 422, "invalid_event"),
    ],
)
async def test_each_failure_answers_as_a_problem_without_the_database_s_words(
    name: str, status: int, code: str
) -> None:
    transport = httpx.ASGITransport(app=failing_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        answer = await client.get(f"/test/{name}")
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code
    assert not any(words in answer.text for words in DATABASE_WORDS), answer.text
