"""Replaying the event topics from an offset or a time into a fresh consumer group and a fresh
schema, through the same effectively-once batch consumers the Faust worker uses.

This checks the other half of the pipeline: that what Kafka holds, consumed again from scratch,
gives the same ledger and metrics as the live workers built (and as the store replay). The
reconciliation read model is fed from the store, not from Kafka, so it is not part of this one.
"""

import time
import uuid
from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from entrypoints.settings import Settings
from events.kafka.reading import end_offsets
from events.registry import default_registry
from events.streaming.consumers import BatchConsumer
from events.streaming.decoding import DeadLetter, DecodedEvent, decode
from ledger.streams.agents import LEDGER_CONSUMER, post_events
from metrics.streams.agents import METRICS_CONSUMER, record_events

FETCH_RECORDS_MAX = 5000
IDLE_TIMEOUT_S = 30.0  # no record for this long before reaching the end: give up


async def _start_positions(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition],
    from_offset: int | None, from_timestamp_ms: int | None,
) -> None:  # fmt: skip
    if from_timestamp_ms is None:
        for partition in partitions:
            consumer.seek(partition, from_offset or 0)
        return
    found = await consumer.offsets_for_times({p: from_timestamp_ms for p in partitions})
    for partition in partitions:
        at = found.get(partition)
        if at is None:
            await consumer.seek_to_end(partition)
        else:
            consumer.seek(partition, at.offset)


async def _behind(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], ends: dict[tuple[str, int], int]
) -> bool:
    positions = [await consumer.position(p) for p in partitions]
    return any(
        at < ends[(p.topic, p.partition)] for p, at in zip(partitions, positions, strict=True)
    )


async def replay_topics(
    settings: Settings, topics: list[str], target: asyncpg.Pool, *,
    from_offset: int | None = None, from_timestamp_ms: int | None = None,
    advance: Callable[[int], None] = lambda _: None,
) -> int:  # fmt: skip
    """Consume every partition of `topics` from the start point to the end it has now, with a
    new consumer group, into `target`; returns the number of records read."""
    ends = await end_offsets(settings.kafka_bootstrap_servers, topics)
    partitions = [TopicPartition(topic, partition) for topic, partition in sorted(ends)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"replay-{uuid.uuid4().hex[:12]}", enable_auto_commit=False,
    )  # fmt: skip
    appliers = [BatchConsumer(target, LEDGER_CONSUMER, post_events),
                BatchConsumer(target, METRICS_CONSUMER, record_events)]  # fmt: skip
    registry = default_registry()
    read = 0
    await consumer.start()
    try:
        consumer.assign(partitions)
        await _start_positions(consumer, partitions, from_offset, from_timestamp_ms)
        last_record_at = time.monotonic()
        while await _behind(consumer, partitions, ends):
            if time.monotonic() - last_record_at > IDLE_TIMEOUT_S:
                raise TimeoutError(f"no record for {IDLE_TIMEOUT_S:.0f} s before the end offsets")
            batches = await consumer.getmany(timeout_ms=500, max_records=FETCH_RECORDS_MAX)
            for partition, records in batches.items():
                items: list[DecodedEvent | DeadLetter] = [
                    decode(registry, r.key, r.value, r.topic, r.partition, r.offset)
                    for r in records
                ]
                for applier in appliers:
                    await applier.consume(partition.topic, items)
                read += len(records)
                last_record_at = time.monotonic()
            if batches:
                await consumer.commit()  # the new group's own offsets: it can be resumed
                advance(read)
    finally:
        await consumer.stop()
    return read
