"""The metrics' part of the Faust worker's PostgreSQL history: `metrics_consumer` adds batches,
effectively once, inside the shared projection agent (entrypoints/worker.py), with the same
machinery as the ledger. The live counters in a Faust table are in live_counters.py."""

from collections.abc import Awaitable, Callable

import asyncpg

from events.streaming.consumers import BatchConsumer, ConsumerFactory
from events.streaming.decoding import DecodedEvent
from metrics.adapters.store import record_batch
from metrics.domain.rules import counted

METRICS_CONSUMER = "metrics"


async def record_events(connection: asyncpg.Connection, events: list[DecodedEvent]) -> None:
    await record_batch(connection, counted((event.envelope, event.payload) for event in events))


def metrics_consumer(pool: Callable[[], Awaitable[asyncpg.Pool]]) -> ConsumerFactory:
    async def consumer() -> BatchConsumer:
        return BatchConsumer(await pool(), METRICS_CONSUMER, record_events)

    return consumer
