"""Applying a batch of Kafka events to PostgreSQL effectively once.

In one transaction: lock the progress rows of the batch's partitions, drop every event at or
below its partition's last applied position (a redelivery, or a range the relay sent twice after
a crash), let the projection write the rest, keep the dead letters, and move the progress. If the
worker dies before the commit, nothing happened and Kafka delivers the batch again; if it dies
after, the redelivered events are dropped as duplicates. Either way each event counts once.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from events.errors import InfrastructureError
from events.sqlfiles import load_statements
from events.streaming.decoding import DeadLetter, DecodedEvent

SQL = load_statements("events.streaming.sql", "consumers.sql")
TRANSIENT_RETRY_COUNT_MAX = 5
TRANSIENT_RETRY_PAUSE_S = 0.05

Apply = Callable[[asyncpg.Connection, list[DecodedEvent]], Awaitable[None]]


@dataclass(frozen=True)
class BatchOutcome:
    applied: int
    duplicates: int
    dead_letters: int


class Applier(Protocol):
    """What an agent hands its batches to (BatchConsumer in production, a recorder in tests)."""

    consumer_name: str

    async def consume(
        self, topic: str, items: Sequence[DecodedEvent | DeadLetter]
    ) -> BatchOutcome: ...


ConsumerFactory = Callable[[], Awaitable[Applier]]


@dataclass(frozen=True)
class PartitionProgress:
    topic: str
    partition: int
    last_offset: int
    last_position: int


class BatchConsumer:
    def __init__(self, pool: asyncpg.Pool, consumer_name: str, apply: Apply) -> None:
        self._pool = pool
        self.consumer_name = consumer_name
        self._apply = apply

    async def consume(self, topic: str, items: Sequence[DecodedEvent | DeadLetter]) -> BatchOutcome:
        """Apply the batch; a deadlock or serialization failure (another worker on the same
        rows) rolls it back whole, so it is simply tried again, a bounded number of times."""
        for attempt in range(TRANSIENT_RETRY_COUNT_MAX):
            try:
                return await self._consume_once(topic, items)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                await asyncio.sleep(TRANSIENT_RETRY_PAUSE_S * (attempt + 1))
        return await self._consume_once(topic, items)

    async def _consume_once(
        self, topic: str, items: Sequence[DecodedEvent | DeadLetter]
    ) -> BatchOutcome:
        partitions = sorted({item.partition for item in items})
        if not partitions:
            return BatchOutcome(0, 0, 0)
        dead = [item for item in items if isinstance(item, DeadLetter)]
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                topics = [topic] * len(partitions)
                await connection.execute(
                    SQL["ensure_progress"], self.consumer_name, topics, partitions
                )
                rows = await connection.fetch(
                    SQL["lock_progress"], self.consumer_name, topics, partitions
                )
                applied_up_to = {row["partition"]: row["last_position"] for row in rows}
                last_offsets = {row["partition"]: row["last_offset"] for row in rows}
                fresh = _fresh_events(items, applied_up_to)
                if fresh:
                    await self._apply(connection, fresh)
                for item in items:
                    last_offsets[item.partition] = max(last_offsets[item.partition], item.offset)
                for event in fresh:
                    applied_up_to[event.partition] = max(
                        applied_up_to[event.partition], event.envelope.position
                    )
                await connection.execute(
                    SQL["save_progress"], self.consumer_name, [topic] * len(partitions),
                    partitions, [last_offsets[p] for p in partitions],
                    [applied_up_to[p] for p in partitions],
                )  # fmt: skip
                if dead:
                    await connection.execute(
                        SQL["insert_dead_letters"], self.consumer_name, [d.topic for d in dead],
                        [d.partition for d in dead], [d.offset for d in dead],
                        [d.key for d in dead], [d.value for d in dead], [d.reason for d in dead],
                    )  # fmt: skip
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            raise  # transient: consume() tries the batch again
        except asyncpg.PostgresError as error:
            raise InfrastructureError(
                f"{self.consumer_name}: batch not applied: {error}"
            ) from error
        decoded = sum(1 for item in items if isinstance(item, DecodedEvent))
        return BatchOutcome(len(fresh), decoded - len(fresh), len(dead))

    async def progress(self) -> list[PartitionProgress]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SQL["progress_of"], self.consumer_name)
        return [PartitionProgress(*row) for row in rows]


def _fresh_events(
    items: Sequence[DecodedEvent | DeadLetter], applied_up_to: dict[int, int]
) -> list[DecodedEvent]:
    """Events above their partition's applied position, each once (a batch may repeat one)."""
    fresh: list[DecodedEvent] = []
    high = dict(applied_up_to)
    for item in items:
        if isinstance(item, DecodedEvent) and item.envelope.position > high[item.partition]:
            fresh.append(item)
            high[item.partition] = item.envelope.position
    return fresh


async def applied_positions(pool: asyncpg.Pool) -> dict[str, int]:
    """consumer -> highest store position applied: caught up when it equals the store's head."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(SQL["applied_positions"])
    return {row["consumer_name"]: int(row["position"]) for row in rows}


@dataclass(frozen=True)
class PartitionState:
    """Where a consumer stands on one partition: a partition whose position stops while the
    store's head moves on is stalled, which the highest position over all partitions hides."""

    consumer_name: str
    topic: str
    partition: int
    last_position: int
    idle_s: float  # since a batch last moved it


async def partition_states(pool: asyncpg.Pool) -> list[PartitionState]:
    async with pool.acquire() as connection:
        rows = await connection.fetch(SQL["partition_progress"])
    return [PartitionState(*row) for row in rows]


async def dead_letter_counts(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as connection:
        rows = await connection.fetch(SQL["dead_letter_counts"])
    return {row["consumer_name"]: int(row["dead_letters"]) for row in rows}


async def lagging_partitions(
    pool: asyncpg.Pool, consumer_name: str, ends: dict[tuple[str, int], int]
) -> list[tuple[str, int]]:
    """The partitions whose last record (by `ends`, see events.kafka.reading.end_offsets) the
    consumer has not applied yet. Empty: caught up on every partition, not just on one."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(SQL["progress_of"], consumer_name)
    applied = {(row["topic"], row["partition"]): row["last_offset"] for row in rows}
    return sorted(key for key, end in ends.items() if end > 0 and applied.get(key, -1) < end - 1)
