"""Request bodies are capped before they are read whole (FastAPI reads a body before it checks
the bearer token): 1 MiB for every route but the statement upload, which has its own cap. Over
the cap the answer is a 413 problem document, and nothing is stored."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from entrypoints.http import REQUEST_BODY_BYTES_MAX
from entrypoints.settings import Settings
from schemas.api.auth import Role
from tests.integration.api_harness import Harness, running_api

CAMT053_NAMESPACE = b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


@pytest.fixture
async def harness(settings: Settings, database: Any) -> AsyncIterator[Harness]:
    async with running_api(settings) as running:
        yield running


async def test_a_body_over_the_cap_is_refused_before_authentication(harness: Harness) -> None:
    """Declared too long (Content-Length), Starlette answers 413 before the route runs; sent in
    chunks without a length, the read stops at the cap and the route answers a 413 problem."""
    h = harness
    head = await h.payments.store.head()
    oversized = b'{"procedure_code": "' + b"A" * REQUEST_BODY_BYTES_MAX + b'"}'
    headers = {"Content-Type": "application/json", "Idempotency-Key": "oversized-0001"}
    declared = await h.api.post("/dossiers", content=oversized, headers=headers)
    assert declared.status_code == 413, declared.text

    async def in_chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(oversized), 64 * 1024):
            yield oversized[start : start + 64 * 1024]

    chunked = await h.api.post("/dossiers", content=in_chunks(), headers=headers)
    assert chunked.status_code == 413, chunked.text
    assert chunked.headers["content-type"] == "application/problem+json"
    assert chunked.json()["code"] == "body_too_large"
    assert await h.payments.store.head() == head
    small = await h.api.post("/dossiers", content=b"{}", headers=headers)
    assert small.status_code == 401  # under the cap, the token is checked as before


async def test_statement_uploads_have_a_larger_cap_of_their_own(harness: Harness) -> None:
    """A statement above 1 MiB reaches the parser: refused for what it holds (no entries), not
    for its size."""
    h = harness
    empty_statement = b'<?xml version="1.0"?><Document xmlns="%s"/>' % CAMT053_NAMESPACE
    padded = empty_statement + b"\n" * REQUEST_BODY_BYTES_MAX  # whitespace after the root
    response = await h.api.post(
        "/reconciliation/imports",
        params={"format": "camt053", "file_name": "large.xml"},
        content=padded,
        headers={**h.token(Role.FINANCE, "lan"), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_statement"
