"""The transactional-outbox relay: publishes the event store to Kafka in position order.

The events table is the outbox. An event and its "outbox row" are the same row, written in the
append's transaction, and positions become visible strictly in order (see events/store), so the
relay only needs one number: the last position it published, kept in `relay_checkpoints`.

A cycle reads up to `batch_max` events after the checkpoint, sends them all (idempotent producer,
acks=all, key = stream id), waits until Kafka acknowledged every one, then moves the checkpoint.
If the process dies in between, the next run re-sends from the checkpoint: events may arrive twice,
never zero times and never out of order per stream after de-duplication by event id.
One relay per name is active at a time (a PostgreSQL advisory lock); others wait as standbys.
"""

import asyncio
from collections import defaultdict
from collections.abc import Callable

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from events.errors import InfrastructureError
from events.kafka.messages import message_for
from events.kafka.partitioning import partition_for
from events.kafka.topics import TopicRouter
from events.pg_sessions import terminated_on_error
from events.sqlfiles import load_statements
from events.store.postgres import POSITION_MAX, PostgresEventStore

SQL = load_statements("events.kafka.sql", "relay.sql")
RELAY_BATCH_MAX = 5000
RELAY_POLL_INTERVAL_S = 0.05
RELAY_BACKOFF_S_MAX = 10.0
PARTITION_CACHE_MAX = 200_000  # streams whose partition is remembered (about 30 MB at most)

log = structlog.get_logger("events.relay")


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: PostgresEventStore,
        producer: AIOKafkaProducer,
        router: TopicRouter,
        *,
        relay_name: str = "kafka",
        batch_max: int = RELAY_BATCH_MAX,
    ) -> None:
        if not 1 <= batch_max <= RELAY_BATCH_MAX:
            raise ValueError(f"batch_max must be within 1..{RELAY_BATCH_MAX}")
        self._pool = pool
        self._store = store
        self._producer = producer
        self._router = router
        self.relay_name = relay_name
        self._batch_max = batch_max
        self._partition_counts: dict[str, int] = {}
        self._partitions: dict[tuple[str, str], int] = {}

    async def checkpoint(self) -> int:
        async with self._pool.acquire() as connection:
            return await self._checkpoint(connection)

    async def _checkpoint(self, connection: asyncpg.Connection) -> int:
        position = await connection.fetchval(SQL["checkpoint"], self.relay_name)
        if position is None:
            # Another session created the row at the same moment: our INSERT waited for its
            # commit and did nothing, and our SELECT's snapshot predates the row. The statement
            # again, with a new snapshot, reads it.
            position = await connection.fetchval(SQL["checkpoint"], self.relay_name)
        return int(position)

    async def relay_once(self, connection: asyncpg.Connection | None = None) -> int:
        """Publish one batch after the checkpoint; return how many events were published.

        `run` passes the connection that holds the leader's lock, so the relay's reads and its
        checkpoint go through it and stop with it; otherwise one pooled connection serves the
        cycle (checkpoint, page, new checkpoint).
        """
        if connection is None:
            async with self._pool.acquire() as pooled:
                return await self._relay_batch(pooled)
        return await self._relay_batch(connection)

    async def _relay_batch(self, connection: asyncpg.Connection) -> int:
        checkpoint = await self._checkpoint(connection)
        rows = await self._store.read_stored_page(
            checkpoint, POSITION_MAX, self._batch_max, connection=connection
        )
        if not rows:
            return 0
        await self._publish(rows)
        last_position = int(rows[-1]["position"])
        moved = await connection.execute(
            SQL["save_checkpoint"], self.relay_name, checkpoint, last_position
        )
        if moved != "UPDATE 1":
            raise InfrastructureError(
                f"relay {self.relay_name}: checkpoint moved under us (another relay running?)"
            )
        return len(rows)

    async def _publish(self, rows: list[asyncpg.Record]) -> None:
        """Send rows as per-partition batches, in position order, and wait for every ack.

        Whole batches skip aiokafka's per-message path (a future and a partitioner call per
        event), which doubles relay throughput; order per partition, hence per stream, holds.
        """
        per_partition: dict[tuple[str, int], list[asyncpg.Record]] = defaultdict(list)
        for row in rows:
            topic = self._router.topic_for(row["event_type"], row["schema_version"])
            per_partition[(topic, await self._partition(topic, row["stream_id"]))].append(row)
        deliveries = []
        for (topic, partition), partition_rows in per_partition.items():
            batch = self._producer.create_batch()
            for row in partition_rows:
                message = message_for(row)
                # Milliseconds: BatchBuilder.append's docstring says seconds, but it hands the
                # value to the record builder, which stores it as milliseconds (a time in seconds
                # came out in January 1970, and offsets_for_times found nothing after it).
                timestamp_ms = round(row["recorded_at"].timestamp() * 1000)
                if (
                    batch.append(
                        key=message.key,
                        value=message.value,
                        timestamp=timestamp_ms,
                        headers=message.headers,
                    )
                    is None
                ):  # full: ship it and start the next one
                    deliveries.append(
                        await self._producer.send_batch(batch, topic, partition=partition)
                    )
                    batch = self._producer.create_batch()
                    batch.append(
                        key=message.key,
                        value=message.value,
                        timestamp=timestamp_ms,
                        headers=message.headers,
                    )
            deliveries.append(await self._producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*deliveries)

    async def _partition(self, topic: str, stream_id: str) -> int:
        """A stream's partition, remembered: a stream's events tend to come close together, and
        murmur2 in Python is the relay's single largest cost per message."""
        key = (topic, stream_id)
        partition = self._partitions.get(key)
        if partition is None:
            if topic not in self._partition_counts:
                self._partition_counts[topic] = len(await self._producer.partitions_for(topic))
            if len(self._partitions) >= PARTITION_CACHE_MAX:
                self._partitions.clear()
            partition = partition_for(stream_id.encode("utf-8"), self._partition_counts[topic])
            self._partitions[key] = partition
        return partition

    async def run(
        self,
        stop: asyncio.Event,
        *,
        poll_interval_s: float = RELAY_POLL_INTERVAL_S,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        """Relay until `stop` is set. Holds leadership for its whole life; retries Kafka errors."""
        async with self._pool.acquire() as leader_connection:
            with terminated_on_error(leader_connection):  # a cancelled try may hold the lock
                if not await self._become_leader(leader_connection, stop):
                    return
            try:
                await self._relay_until(leader_connection, stop, poll_interval_s, on_published)
            finally:
                with terminated_on_error(leader_connection):  # never pooled still leading
                    await leader_connection.execute(SQL["resign"], self.relay_name)

    async def _relay_until(
        self,
        connection: asyncpg.Connection,
        stop: asyncio.Event,
        poll_interval_s: float,
        on_published: Callable[[int], None] | None,
    ) -> None:
        backoff_s = poll_interval_s
        while not stop.is_set():
            try:
                published = await self.relay_once(connection)
                backoff_s = poll_interval_s
            except KafkaError as error:
                # Nothing was checkpointed: the batch is re-sent after the pause (harmless
                # duplicates). A relay has no better option than to keep trying, slower.
                log.warning("relay.kafka_error", error=str(error), retry_in_s=backoff_s)
                await _sleep_or_stop(stop, backoff_s)
                backoff_s = min(backoff_s * 2, RELAY_BACKOFF_S_MAX)
                continue
            if on_published is not None and published:
                on_published(published)
            if published < self._batch_max:
                await _sleep_or_stop(stop, poll_interval_s)

    async def _become_leader(self, connection: asyncpg.Connection, stop: asyncio.Event) -> bool:
        """Wait (as a standby) until this relay holds the advisory lock; False if told to stop."""
        while not stop.is_set():
            if await connection.fetchval(SQL["try_lead"], self.relay_name):
                log.info("relay.leading", relay=self.relay_name)
                return True
            await _sleep_or_stop(stop, RELAY_BACKOFF_S_MAX)
        return False


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
