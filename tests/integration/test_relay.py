"""Proves the outbox relay on the real broker: every stored event reaches Kafka keyed by stream,
with type headers and the store's exact bytes; a relay killed with SIGKILL mid-work and restarted
loses nothing and keeps per-stream order (after de-duplication by event id); a second relay only
stands by while the first leads."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from entrypoints.bootstrap import Runtime
from entrypoints.settings import REPOSITORY_ROOT, Settings
from events.errors import InfrastructureError
from events.kafka.messages import envelope_from_message, header
from events.kafka.producer import create_producer
from events.kafka.relay import OutboxRelay
from events.store.ports import NO_STREAM, AppendRequest
from tests.factories import new_events, stream_id
from tests.integration.kafka_reading import consume_until

RELAY_START_TIMEOUT_S = 60.0


async def append_streams(runtime: Runtime, stream_count: int, events_per_stream: int) -> set[str]:
    requests = [
        AppendRequest(stream_id(), NO_STREAM, new_events(events_per_stream))
        for _ in range(stream_count)
    ]
    for start in range(0, len(requests), 50):
        await runtime.store.append_batch(requests[start : start + 50])
    return {str(event.event_id) for request in requests for event in request.events}


def first_occurrences(records: list[ConsumerRecord[bytes, bytes]]) -> dict[str, list[int]]:
    """Stream id -> stream versions in arrival order, each event counted once."""
    seen: set[str] = set()
    versions: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        envelope = envelope_from_message(record.value)
        if str(envelope.event_id) in seen:
            continue
        seen.add(str(envelope.event_id))
        assert record.key == envelope.stream_id.encode()
        versions[envelope.stream_id].append(envelope.stream_version)
    return versions


async def test_relayed_events_arrive_keyed_with_headers_exact_values_and_times(
    runtime: Runtime, settings: Settings, kafka_topics: list[str]
) -> None:
    event_ids = await append_streams(runtime, stream_count=20, events_per_stream=4)
    producer = create_producer(settings.kafka_bootstrap_servers, "test-relay")
    await producer.start()
    try:
        relay = OutboxRelay(runtime.pool, runtime.store, producer, runtime.router, batch_max=30)
        published = [await relay.relay_once() for _ in range(4)]
    finally:
        await producer.stop()
    assert published == [30, 30, 20, 0]
    assert await relay.checkpoint() == 80

    records = await consume_until(settings.kafka_bootstrap_servers, kafka_topics, event_ids)
    assert len(records) == 80
    assert {str(envelope_from_message(r.value).event_id) for r in records} == event_ids
    assert {r.topic for r in records} == {settings.topic_payments_events}
    assert all(versions == [1, 2, 3, 4] for versions in first_occurrences(records).values())
    sample = records[0]
    envelope = envelope_from_message(sample.value)
    assert header(sample.headers, "event_type") == envelope.event_type.encode()
    assert header(sample.headers, "schema_version") == b"1"
    stored = await runtime.store.read_stream(envelope.stream_id)
    assert stored[envelope.stream_version - 1] == envelope
    # Kafka's timestamp is the event's recorded_at in milliseconds (replay from a time uses it).
    for record in records:
        recorded_at = envelope_from_message(record.value).recorded_at
        assert record.timestamp == round(recorded_at.timestamp() * 1000)


def relay_process(settings: Settings, batch_max: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "FEES_DATABASE_SCHEMA": settings.database_schema,
        "FEES_TOPIC_PAYMENTS_EVENTS": settings.topic_payments_events,
        "FEES_TOPIC_RECONCILIATION_EVENTS": settings.topic_reconciliation_events,
        "FEES_RELAY_BATCH_MAX": str(batch_max),
        "FEES_RELAY_POLL_INTERVAL_S": "0.01",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "relay"],
        cwd=REPOSITORY_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_for_checkpoint(
    relay: OutboxRelay, at_least: int, process: subprocess.Popen[bytes] | None
) -> int:
    deadline = time.monotonic() + RELAY_START_TIMEOUT_S
    while time.monotonic() < deadline:
        checkpoint = await relay.checkpoint()
        if checkpoint >= at_least:
            return checkpoint
        if process is not None and process.poll() is not None:
            pytest.fail(
                f"relay exited early: {process.stderr.read().decode() if process.stderr else ''}"
            )
        await asyncio.sleep(0.005)
    pytest.fail(f"relay did not reach position {at_least} in {RELAY_START_TIMEOUT_S}s")


async def test_relay_killed_mid_work_and_restarted_loses_nothing_and_keeps_order(
    runtime: Runtime, settings: Settings, kafka_topics: list[str]
) -> None:
    event_ids = await append_streams(runtime, stream_count=150, events_per_stream=20)
    total = len(event_ids)
    observer = OutboxRelay(runtime.pool, runtime.store, producer=None, router=runtime.router)  # type: ignore[arg-type]

    first = relay_process(settings, batch_max=25)
    try:
        killed_at = await wait_for_checkpoint(observer, 200, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert killed_at < total, "the relay finished before it could be killed; use more events"

    second = relay_process(settings, batch_max=500)
    try:
        assert await wait_for_checkpoint(observer, total, second) == total
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert second.returncode == 0

    records = await consume_until(settings.kafka_bootstrap_servers, kafka_topics, event_ids)
    delivered = {str(envelope_from_message(r.value).event_id) for r in records}
    assert delivered == event_ids
    versions = first_occurrences(records)
    assert len(versions) == 150
    assert all(stream == list(range(1, 21)) for stream in versions.values())


async def test_second_relay_stands_by_while_the_first_leads(
    runtime: Runtime, settings: Settings, kafka_topics: list[str]
) -> None:
    event_ids = await append_streams(runtime, stream_count=30, events_per_stream=5)
    producer = create_producer(settings.kafka_bootstrap_servers, "test-relay-pair")
    await producer.start()
    stop = asyncio.Event()
    try:
        relays = [
            OutboxRelay(runtime.pool, runtime.store, producer, runtime.router, batch_max=10)
            for _ in range(2)
        ]
        running = [asyncio.create_task(relay.run(stop, poll_interval_s=0.01)) for relay in relays]
        observer = OutboxRelay(runtime.pool, runtime.store, producer, runtime.router)
        checkpoint = await wait_for_checkpoint(observer, len(event_ids), process=None)
        stop.set()
        await asyncio.gather(*running)
    finally:
        await producer.stop()
    assert checkpoint == len(event_ids)
    records = await consume_until(settings.kafka_bootstrap_servers, kafka_topics, event_ids)
    assert len(records) == len(event_ids), "a standby relay published too"


async def test_a_relay_that_loses_its_leader_connection_stops_publishing(
    runtime: Runtime, settings: Settings, kafka_topics: list[str]
) -> None:
    """The leader works through the connection that holds its lock: when that connection goes,
    so does its leadership, and it must not go on publishing through another one."""
    first_ids = await append_streams(runtime, stream_count=5, events_per_stream=2)
    producer = create_producer(settings.kafka_bootstrap_servers, "test-relay-lost")
    await producer.start()
    stop = asyncio.Event()
    try:
        relay = OutboxRelay(runtime.pool, runtime.store, producer, runtime.router)
        running = asyncio.create_task(relay.run(stop, poll_interval_s=0.01))
        assert await wait_for_checkpoint(relay, len(first_ids), process=None) == len(first_ids)
        async with runtime.pool.acquire() as connection:
            terminated = await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            )
        assert terminated == 1
        await append_streams(runtime, stream_count=5, events_per_stream=2)
        with pytest.raises((asyncpg.InterfaceError, asyncpg.PostgresError, InfrastructureError)):
            await asyncio.wait_for(running, timeout=RELAY_START_TIMEOUT_S)
    finally:
        stop.set()
        await producer.stop()
    assert await relay.checkpoint() == len(first_ids)  # nothing published after the loss


async def test_a_checkpoint_created_by_another_session_meanwhile_is_read_not_missed(
    runtime: Runtime,
) -> None:
    """The checkpoint's row is created on first read. When another session creates it at the same
    moment, this read waits for that commit and its snapshot predates the row: it must still
    answer 0 (it once answered nothing, and the relay died on it)."""
    relay = OutboxRelay(runtime.pool, runtime.store, producer=None, router=runtime.router)  # type: ignore[arg-type]
    async with runtime.pool.acquire() as creator, creator.transaction():
        created = await creator.fetchval(
            "INSERT INTO relay_checkpoints (relay_name, last_position) VALUES ($1, 0) "
            "RETURNING last_position",
            relay.relay_name,
        )
        assert created == 0
        reading = asyncio.create_task(relay.checkpoint())
        deadline = time.monotonic() + RELAY_START_TIMEOUT_S
        while not await runtime.pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%relay_checkpoints%'"
        ):
            assert time.monotonic() < deadline, "the read never waited for the creator's row"
            assert not reading.done(), "the read did not wait for the creator's commit"
            await asyncio.sleep(0.01)
    assert await reading == 0
