"""Proves the PostgreSQL event store's guarantees on the real server: optimistic concurrency
(exactly one of many racing writers wins), gap-free positions that a concurrent catch-up reader
can trust, idempotency by event id, append-only rows, read-as-of, and migrations that re-run as
a no-op."""

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from entrypoints.bootstrap import all_migrations
from events.errors import (
    ConcurrencyError,
    DuplicateCommandError,
    EventIdConflictError,
    EventValidationError,
)
from events.store.migrations import apply_migrations
from events.store.ports import NO_STREAM, AppendRequest, CommandReceipt
from events.store.postgres import PostgresEventStore
from tests.factories import new_event, new_events, stream_id


async def test_append_then_read_stream_and_global_log(store: PostgresEventStore) -> None:
    first, second = stream_id(), stream_id()
    a = await store.append(first, NO_STREAM, new_events(2))
    b = await store.append(second, NO_STREAM, new_events(1))
    c = await store.append(first, 2, new_events(1))
    assert (a.positions, b.positions, c.positions) == ((1, 2), (3,), (4,))
    stream = await store.read_stream(first)
    assert [(e.stream_version, e.position) for e in stream] == [(1, 1), (2, 2), (3, 4)]
    everything = [envelope async for envelope in store.iter_all(page_size=2)]
    assert [e.position for e in everything] == [1, 2, 3, 4]
    assert [e.stream_id for e in everything] == [first, first, second, first]
    head = await store.head()
    assert head.position == 4


async def test_racing_writers_on_one_stream_exactly_one_wins(store: PostgresEventStore) -> None:
    stream = stream_id()
    await store.append(stream, NO_STREAM, new_events(1))
    writer_count = 12

    async def write() -> str:
        try:
            await store.append(stream, 1, new_events(2))
        except ConcurrencyError:
            return "lost"
        return "won"

    outcomes = await asyncio.gather(*(write() for _ in range(writer_count)))
    assert outcomes.count("won") == 1
    assert outcomes.count("lost") == writer_count - 1
    assert [e.stream_version for e in await store.read_stream(stream)] == [1, 2, 3]
    assert (await store.head()).position == 3


async def test_catch_up_reader_never_skips_a_position_under_concurrent_appends(
    store: PostgresEventStore,
) -> None:
    """The trap with sequences: a reader sees position 11 before a slower transaction commits 10.
    Positions here are allocated under the head lock, so whatever a reader sees is a prefix."""
    writers, appends_per_writer, events_per_append = 6, 25, 3
    expected_total = writers * appends_per_writer * events_per_append
    seen: list[int] = []
    done = asyncio.Event()

    async def writer() -> None:
        for _ in range(appends_per_writer):
            await store.append(stream_id(), NO_STREAM, new_events(events_per_append))

    async def reader() -> None:
        checkpoint = 0
        while not (done.is_set() and checkpoint == expected_total):
            rows = await store.read_all_rows(checkpoint, 50)
            for row in rows:
                seen.append(row["position"])
                checkpoint = row["position"]
            if not rows:
                await asyncio.sleep(0.001)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer() for _ in range(writers)))
    done.set()
    await asyncio.wait_for(reading, timeout=30)
    assert seen == list(range(1, expected_total + 1))


async def test_reappending_the_same_event_returns_its_original_position(
    store: PostgresEventStore,
) -> None:
    stream, events = stream_id(), new_events(2)
    original = await store.append(stream, NO_STREAM, events)
    await store.append(stream, 2, new_events(1))
    replay = await store.append(stream, NO_STREAM, events)
    assert replay.already_stored
    assert replay.positions == original.positions
    assert (await store.head()).position == 3


async def test_same_event_id_with_other_content_is_refused_and_writes_nothing(
    store: PostgresEventStore,
) -> None:
    event, stream = new_event(), stream_id()
    await store.append(stream, NO_STREAM, [event])
    head_before = await store.head()
    altered = event.model_copy(update={"actor": "clerk:someone-else"})
    with pytest.raises(EventIdConflictError, match="different actor"):
        await store.append_batch(
            [
                AppendRequest(stream_id(), NO_STREAM, new_events(1)),
                AppendRequest(stream, NO_STREAM, [altered]),
            ]
        )
    assert await store.head() == head_before


async def test_invalid_payload_is_refused_before_anything_is_written(
    store: PostgresEventStore,
) -> None:
    bad = new_event(payload={**new_event().payload, "amount": {"amount_minor": -5}})
    with pytest.raises(EventValidationError, match=r"payload\.amount\.amount_minor"):
        await store.append(stream_id(), NO_STREAM, [bad])
    assert (await store.head()).position == 0


async def test_batch_with_one_stale_stream_writes_nothing(store: PostgresEventStore) -> None:
    existing = stream_id()
    await store.append(existing, NO_STREAM, new_events(1))
    with pytest.raises(ConcurrencyError, match=existing):
        await store.append_batch(
            [
                AppendRequest(stream_id(), NO_STREAM, new_events(3)),
                AppendRequest(existing, NO_STREAM, new_events(1)),
            ]
        )
    assert (await store.head()).position == 1


async def test_rows_cannot_be_updated_or_deleted(
    database: asyncpg.Pool, store: PostgresEventStore
) -> None:
    await store.append(stream_id(), NO_STREAM, new_events(1))
    async with database.acquire() as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute("UPDATE events SET actor = 'clerk:x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute("DELETE FROM events")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute("TRUNCATE events")


async def test_read_as_of_a_time_or_position(
    database: asyncpg.Pool, store: PostgresEventStore
) -> None:
    stream = stream_id()
    await store.append(stream, NO_STREAM, new_events(1))
    first_recorded = (await store.head()).recorded_at
    assert first_recorded is not None
    await asyncio.sleep(0.02)
    await store.append(stream, 1, new_events(1))
    await store.append(stream_id(), NO_STREAM, new_events(1))
    await store.append(stream, 2, new_events(1))

    at_first = await store.stream_as_of(stream, instant=first_recorded + timedelta(milliseconds=5))
    assert [e.stream_version for e in at_first] == [1]
    at_position_3 = await store.stream_as_of(stream, position=3)
    assert [e.stream_version for e in at_position_3] == [1, 2]
    assert await store.position_at(first_recorded - timedelta(seconds=1)) == 0
    assert await store.position_at(first_recorded) == 1
    now = (await store.head()).recorded_at
    assert now is not None
    assert len(await store.stream_as_of(stream, instant=now)) == 3


async def test_migrations_run_again_as_a_no_op(database: asyncpg.Pool) -> None:
    async with database.acquire() as connection:
        assert await apply_migrations(connection, all_migrations()) == []
        versions = await connection.fetch("SELECT version FROM schema_migrations")
    applied = sorted(row["version"] for row in versions)
    assert applied == sorted(migration.version for migration in all_migrations())
    assert applied[:3] == [
        "0001_event_store",
        "0002_command_receipts",
        "0003_projection_checkpoints",
    ]


def receipt(key: str, response: dict[str, object]) -> CommandReceipt:
    return CommandReceipt(
        scope="citizen:079123456789:POST /dossiers",
        key=key,
        request_hash=bytes(32),
        status_code=201,
        response=response,
    )


async def test_command_receipt_is_written_with_the_events(store: PostgresEventStore) -> None:
    stream = stream_id()
    await store.append_batch(
        [AppendRequest(stream, NO_STREAM, new_events(2))], receipt=receipt("k-1", {"ok": 1})
    )
    stored = await store.find_receipt("citizen:079123456789:POST /dossiers", "k-1")
    assert stored is not None
    assert (stored.status_code, stored.response, stored.last_position) == (201, {"ok": 1}, 2)
    assert await store.find_receipt("citizen:079123456789:POST /dossiers", "k-2") is None


async def test_second_request_with_the_same_key_writes_nothing(store: PostgresEventStore) -> None:
    await store.append_batch(
        [AppendRequest(stream_id(), NO_STREAM, new_events(1))], receipt=receipt("k", {"n": 1})
    )
    with pytest.raises(DuplicateCommandError):
        await store.append_batch(
            [AppendRequest(stream_id(), NO_STREAM, new_events(1))], receipt=receipt("k", {"n": 2})
        )
    assert (await store.head()).position == 1
    stored = await store.find_receipt("citizen:079123456789:POST /dossiers", "k")
    assert stored is not None and stored.response == {"n": 1}


async def test_stream_version_without_reading_the_stream(store: PostgresEventStore) -> None:
    stream = stream_id()
    assert await store.stream_version(stream) == 0
    await store.append(stream, NO_STREAM, new_events(3))
    assert await store.stream_version(stream) == 3


async def test_several_streams_read_in_one_query_up_to_a_position(
    store: PostgresEventStore,
) -> None:
    first, second, empty = stream_id(), stream_id(), stream_id()
    await store.append(first, NO_STREAM, new_events(2))  # positions 1, 2
    await store.append(second, NO_STREAM, new_events(1))  # 3
    await store.append(first, 2, new_events(1))  # 4: after the bound below
    streams = await store.read_streams([first, second, empty], to_position=3)
    assert set(streams) == {first, second}
    assert [e.stream_version for e in streams[first]] == [1, 2]
    assert [e.position for e in streams[second]] == [3]
    everything = await store.read_streams([first], to_position=4)
    assert [e.stream_version for e in everything[first]] == [1, 2, 3]
