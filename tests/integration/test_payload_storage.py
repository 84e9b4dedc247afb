"""Proves that payloads are stored as their canonical text (the bytes the chain hash covers), that
migration 0006's SQL canonicalizer writes exactly the Python encoder's bytes, that a store
written before 0006 (payloads as jsonb) still verifies after the migration rewrote it, and that
large payloads are lz4-compressed (migration 0008) and come back byte for byte."""

import random
import string
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from entrypoints.bootstrap import all_migrations, create_pool
from entrypoints.settings import Settings, load_settings
from events.chain import canonical_payload
from events.registry import default_registry
from events.store.append_plan import ROW_COLUMNS, plan_append
from events.store.migrations import apply_migrations
from events.store.ports import NO_STREAM, AppendRequest, ChainHead
from events.store.postgres import SQL, PostgresEventStore
from events.store.verify import verify_chain
from schemas.envelope import NewEvent
from schemas.events.reconciliation_v1 import Direction, SettlementLine, SettlementLinesRecorded
from tests.factories import new_event, stream_id

PAYLOAD_MIGRATION = "0006_payload_as_canonical_json"
# Every escape JSON has, text outside the BMP, and keys that sort differently by length, by
# UTF-16 unit and by code point (jsonb orders keys by length first). No NUL: jsonb refuses it.
ALPHABET = string.ascii_letters + '"\\/\b\f\n\r\t\x01\x1f\x7f é Đ ữ\u2028\U0001d11e'


def tricky_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([0, -1, 2**62, -(2**62), rng.randrange(-(10**12), 10**12)])
    if kind == 1:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(12)))
    if kind == 2:
        return rng.choice([True, False])
    if kind == 3:
        return None
    if kind == 4:
        return [tricky_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return tricky_object(rng, depth + 1)


def tricky_object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    keys = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 6))) for _ in range(5)]
    return {key: tricky_value(rng, depth) for key in keys[: rng.randrange(6)]}


async def test_a_large_payload_is_stored_lz4_compressed_and_read_back_exactly(
    store: PostgresEventStore, database: asyncpg.Pool
) -> None:
    lines = [
        SettlementLine(
            line_no=n,
            location=f"line {n + 1}",
            bank_account="0011001234567",
            booking_date=date(2026, 11, 25),
            value_date=date(2026, 11, 25),
            amount_minor=1000 * (n + 10),
            direction=Direction.CREDIT,
            bank_reference=f"FT{n:010d}",
            end_to_end_id=f"POS{n:08d}",
            remittance_info=f"THE POS POS{n:08d}",
            counterparty="ACQ",
        )
        for n in range(1, 201)
    ]
    chunk = SettlementLinesRecorded(file_id=uuid.uuid4(), chunk=1, lines=lines)
    event = NewEvent.from_payload(
        chunk, event_id=uuid.uuid4(), occurred_at=datetime(2026, 11, 26, tzinfo=UTC),
        correlation_id=uuid.uuid4(), actor="finance:lan",
    )  # fmt: skip
    await store.append(stream_id("settlementfile"), NO_STREAM, [event])
    row = await database.fetchrow(
        "SELECT pg_column_compression(payload) AS method, payload::text AS text FROM events"
    )
    assert row is not None
    assert len(row["text"]) > 40_000  # well over the ~2 kB at which PostgreSQL compresses
    assert row["method"] == "lz4"
    assert row["text"] == canonical_payload(event.payload).decode("utf-8")
    assert (await verify_chain(store)).intact


async def test_appended_payloads_are_stored_as_their_canonical_text(
    store: PostgresEventStore, database: asyncpg.Pool
) -> None:
    events = [new_event(index) for index in range(3)]
    await store.append(stream_id(), NO_STREAM, events)
    async with database.acquire() as connection:
        stored = await connection.fetch("SELECT payload::text FROM events ORDER BY position")
    expected = [canonical_payload(event.payload).decode("utf-8") for event in events]
    assert [row["payload"] for row in stored] == expected


async def test_the_migrations_sql_canonicalizer_writes_the_python_encoders_bytes(
    database: asyncpg.Pool,
) -> None:
    rng = random.Random(20261203)
    values = [tricky_object(rng) for _ in range(2000)]
    async with database.acquire() as connection:
        texts = await connection.fetch(
            "SELECT events_canonical_json(value::jsonb) AS text "
            "FROM unnest($1::text[]) WITH ORDINALITY AS given(value, index) ORDER BY index",
            [canonical_payload(value).decode("utf-8") for value in values],
        )
    mismatches = [
        (value, row["text"])
        for value, row in zip(values, texts, strict=True)
        if row["text"].encode("utf-8") != canonical_payload(value)
    ]
    assert mismatches == []
    assert any(value for value in values)  # not only empty objects


@pytest.fixture
async def schema_before_0006(test_suffix: str) -> AsyncIterator[tuple[Settings, asyncpg.Pool]]:
    """A fresh schema migrated up to, not including, 0006: payloads still jsonb."""
    settings = load_settings(database_schema=f"test_{test_suffix}_pre")
    dsn = settings.database_dsn.get_secret_value()
    admin = await asyncpg.connect(dsn, timeout=10)
    try:
        await admin.execute(f'CREATE SCHEMA "{settings.database_schema}"')
        pool = await create_pool(settings)
        try:
            before = [m for m in all_migrations() if m.version != PAYLOAD_MIGRATION]
            async with pool.acquire() as connection:
                await apply_migrations(connection, before)
            yield settings, pool
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')
        await admin.close()


async def test_a_store_written_as_jsonb_verifies_after_the_migration(
    schema_before_0006: tuple[Settings, asyncpg.Pool],
) -> None:
    _, pool = schema_before_0006
    rng = random.Random(7)
    requests = [
        AppendRequest(stream_id(), NO_STREAM, [new_event(i, payload=tricky_object(rng))])
        for i in range(300)
    ]
    plan = plan_append(requests, ChainHead(0, bytes(32), None), new_event().occurred_at, {}, {})
    payload_at = ROW_COLUMNS.index("payload")
    async with pool.acquire() as connection, connection.transaction():
        assert await connection.fetchval(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'events' "
            "AND column_name = 'payload'"
        ) == "jsonb"  # fmt: skip
        # Written as jsonb stores it: parsed, keys re-ordered, its own spacing on output.
        rows = [[*row[:payload_at], row[payload_at].decode("utf-8"), *row[payload_at + 1 :]]
                for row in plan.rows]  # fmt: skip
        columns = ", ".join(ROW_COLUMNS)
        values = ", ".join(
            f"${n}::text::jsonb" if n == payload_at + 1 else f"${n}" for n in range(1, 14)
        )
        await connection.executemany(f"INSERT INTO events ({columns}) VALUES ({values})", rows)
        await connection.execute(
            SQL["advance_head"], plan.head.position, plan.head.entry_hash,
            plan.head.recorded_at, len(plan.rows),
        )  # fmt: skip
        assert await connection.fetchval("SELECT count(*) FROM events WHERE payload::text ~ ': '")

    async with pool.acquire() as connection:
        assert await apply_migrations(connection, all_migrations()) == [PAYLOAD_MIGRATION]
    report = await verify_chain(PostgresEventStore(pool, default_registry()), page_size=64)
    assert report.intact, report.finding
    assert report.checked_count == len(requests)
