"""Proves that someone with database access who alters, deletes or re-orders stored events is
caught by `audit verify` at the exact position, through the library call and the CLI exit code."""

import asyncpg
import pytest

from entrypoints.settings import Settings
from events.store.ports import NO_STREAM
from events.store.postgres import PostgresEventStore
from events.store.verify import verify_chain
from tests.factories import new_events, stream_id
from tests.integration.audit_harness import run_cli

EVENT_COUNT = 40


async def append_history(store: PostgresEventStore) -> None:
    for _ in range(EVENT_COUNT // 4):
        await store.append(stream_id(), NO_STREAM, new_events(4))


async def tamper(pool: asyncpg.Pool, statement: str) -> None:
    """What an intruder with the owner's rights would do: switch the guard off, edit, switch on."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await connection.execute(statement)
        await connection.execute("ALTER TABLE events ENABLE TRIGGER USER")


async def test_intact_history_verifies(store: PostgresEventStore) -> None:
    await append_history(store)
    report = await verify_chain(store, page_size=7)
    assert report.intact
    assert report.checked_count == EVENT_COUNT


@pytest.mark.parametrize(
    ("statement", "position", "problem"),
    [
        (
            "UPDATE events SET payload = events_canonical_json("
            "jsonb_set(payload::jsonb, '{amount,amount_minor}', '1'))::json WHERE position = 23",
            23,
            "altered",
        ),
        (
            # The same JSON value in other bytes (jsonb's spacing): what is hashed and what the
            # relay sends is the stored text, so this is an alteration too.
            "UPDATE events SET payload = payload::jsonb::text::json WHERE position = 12",
            12,
            "altered",
        ),
        ("UPDATE events SET actor = 'clerk:intruder' WHERE position = 1", 1, "altered"),
        ("DELETE FROM events WHERE position = 17", 17, "missing"),
        ("DELETE FROM events WHERE position > 36", 37, "head_mismatch"),
        (
            # A row written around the appender, past the head: readers and the relay would
            # serve it, though the chain up to the head is intact.
            "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, "
            "schema_version, occurred_at, recorded_at, correlation_id, causation_id, actor, "
            "payload, entry_hash) SELECT position + 100, gen_random_uuid(), stream_id || 'x', "
            "stream_version, event_type, schema_version, occurred_at, recorded_at, "
            "correlation_id, causation_id, actor, payload, entry_hash FROM events "
            "WHERE position = 1",
            EVENT_COUNT + 1,
            "rows_past_head",
        ),
        (
            # Swap two events' places, hashes and all: each hash no longer follows its predecessor.
            "UPDATE events SET position = 1000 WHERE position = 9; "
            "UPDATE events SET position = 9 WHERE position = 10; "
            "UPDATE events SET position = 10 WHERE position = 1000",
            9,
            "altered",
        ),
    ],
)
async def test_tampering_is_reported_at_the_exact_position(
    database: asyncpg.Pool, store: PostgresEventStore, statement: str, position: int, problem: str
) -> None:
    await append_history(store)
    await tamper(database, statement)
    report = await verify_chain(store, page_size=7)
    assert not report.intact
    assert report.finding is not None
    assert (report.finding.position, report.finding.problem) == (position, problem)


async def test_audit_verify_cli_exit_status(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings
) -> None:
    await append_history(store)
    intact = run_cli(settings, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert f"intact: {EVENT_COUNT} events" in intact.stdout

    await tamper(
        database,
        "UPDATE events SET occurred_at = occurred_at + interval '1 day' WHERE position = 31",
    )
    broken = run_cli(settings, "audit", "verify")
    assert broken.returncode == 1
    assert "TAMPERED at position 31 (altered)" in broken.stdout
