"""Small appends are numbered and hashed inside PostgreSQL (migration 0007's events_append),
large and careful ones in Python (events.store.append_plan). These tests hold the two to the
same bytes: a history written through both paths, interleaved and concurrently, verifies with
the Python chain verifier, and the SQL recorded_at fragment is the Python one."""

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from events.chain import recorded_at_fragment
from events.errors import ConcurrencyError
from events.store.ports import NO_STREAM, AppendRequest, CommandReceipt
from events.store.postgres import SMALL_APPEND_ROWS_MAX, PostgresEventStore
from events.store.verify import verify_chain
from tests.factories import new_events, stream_id


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 12, 4, 2, 7, 15, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 2, 7, 15, 1, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, 60, tzinfo=UTC),
    ],
)
async def test_the_sql_recorded_at_fragment_is_the_python_one(
    database: asyncpg.Pool, instant: datetime
) -> None:
    in_sql = await database.fetchval("SELECT events_recorded_at_fragment($1)", instant)
    assert in_sql == recorded_at_fragment(instant)


async def test_a_history_written_by_both_planners_verifies_as_one_chain(
    store: PostgresEventStore,
) -> None:
    small = [AppendRequest(stream_id(), NO_STREAM, new_events(3)) for _ in range(4)]
    large = [AppendRequest(stream_id(), NO_STREAM, new_events(SMALL_APPEND_ROWS_MAX + 1))]
    first = await store.append_batch(small[:2])
    second = await store.append_batch(large)
    third = await store.append_batch(small[2:])
    assert [r.positions for r in first] == [(1, 2, 3), (4, 5, 6)]
    assert second[0].positions == tuple(range(7, 7 + SMALL_APPEND_ROWS_MAX + 1))
    after_large = 7 + SMALL_APPEND_ROWS_MAX + 1
    assert third[0].positions == (after_large, after_large + 1, after_large + 2)
    report = await verify_chain(store, page_size=10)
    assert report.intact, report.finding
    assert report.checked_count == 12 + SMALL_APPEND_ROWS_MAX + 1


async def test_concurrent_small_appends_take_turns_on_the_head_and_chain(
    store: PostgresEventStore,
) -> None:
    requests = [AppendRequest(stream_id(), NO_STREAM, new_events(2)) for _ in range(40)]
    results = await asyncio.gather(*(store.append(r.stream_id, 0, r.events) for r in requests))
    positions = sorted(p for result in results for p in result.positions)
    assert positions == list(range(1, 81))
    report = await verify_chain(store, page_size=16)
    assert report.intact, report.finding


async def test_a_refused_small_append_writes_nothing_not_even_its_receipt(
    store: PostgresEventStore, database: asyncpg.Pool
) -> None:
    stream = stream_id()
    await store.append(stream, NO_STREAM, new_events(1))
    receipt = CommandReceipt(
        scope="test", key="k-1", request_hash=bytes(32), status_code=201, response={}
    )
    with pytest.raises(ConcurrencyError):
        await store.append_batch(
            [
                AppendRequest(stream_id(), NO_STREAM, new_events(1)),
                AppendRequest(stream, NO_STREAM, new_events(1)),  # stale: the stream has one
            ],
            receipt=receipt,
        )
    assert await database.fetchval("SELECT count(*) FROM events") == 1
    assert await database.fetchval("SELECT count(*) FROM command_receipts") == 0
    assert (await store.head()).position == 1


async def test_racing_appends_to_one_stream_admit_exactly_one(store: PostgresEventStore) -> None:
    """Each statement checks the stream's version under the head's lock: the first one in
    writes, the others write nothing, and their careful retry reports the conflict."""
    stream = stream_id()
    outcomes = await asyncio.gather(
        *(store.append(stream, NO_STREAM, new_events(2)) for _ in range(10)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1 and won[0].positions == (1, 2)
    assert len(lost) == 9 and all(isinstance(o, ConcurrencyError) for o in lost)
    report = await verify_chain(store)
    assert report.intact and report.checked_count == 2
