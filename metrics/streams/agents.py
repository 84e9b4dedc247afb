"""The metrics' Faust agents, thin shells around the pure rules.

- `metrics` takes batches and adds them to the PostgreSQL history, effectively once (the same
  consumer machinery as the ledger).
- `metrics_live` keeps today's counters in a Faust table (changelog-backed, so a worker that takes
  over a partition restores them). Faust tables may only be written while iterating the stream
  event by event (`take` raises "Cannot modify table key from outside of stream iteration"), so
  this agent does not batch. Each key starts with the source partition: counters for one key come
  from many partitions, and a table key must belong to one partition's changelog.
"""

from collections.abc import Awaitable, Callable

import asyncpg
import faust
from faust.types import TableT

from events.registry import EventRegistry
from events.streaming.consumers import BatchConsumer
from events.streaming.decoding import DecodedEvent, decode
from events.streaming.runner import ConsumerFactory, consume_batches
from metrics.adapters.store import record_facts
from metrics.domain.rules import facts_for

METRICS_CONSUMER = "metrics"
LIVE_TABLE = "metric_key_to_count"


async def record_events(connection: asyncpg.Connection, events: list[DecodedEvent]) -> None:
    await record_facts(connection, [facts_for(event.envelope, event.payload) for event in events])


def live_key(partition: int, business_day: str, unit: str, agency: str, procedure: str,
             counter: str) -> str:  # fmt: skip
    return f"p{partition}|{business_day}|{unit}|{agency}|{procedure}|{counter}"


def metrics_consumer(pool: Callable[[], Awaitable[asyncpg.Pool]]) -> ConsumerFactory:
    async def consumer() -> BatchConsumer:
        return BatchConsumer(await pool(), METRICS_CONSUMER, record_events)

    return consumer


def register_metrics_agents(
    app: faust.App,
    topic: faust.TopicT,
    dead_letter_topic: faust.TopicT,
    consumer: ConsumerFactory,
    registry: EventRegistry,
    *,
    batch_max: int,
    within_s: float,
    partitions: int,
) -> TableT[str, int]:
    @app.agent(topic, name=METRICS_CONSUMER)
    async def record_metrics(stream: faust.StreamT[bytes]) -> None:
        await consume_batches(
            stream, consumer, registry, dead_letter_topic, batch_max=batch_max, within_s=within_s
        )

    live = app.Table(LIVE_TABLE, default=int, partitions=partitions)

    @app.agent(topic, name="metrics_live")
    async def count_live(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            item = decode(
                registry, message.key, message.value, message.topic, message.partition,
                message.offset,
            )  # fmt: skip
            if not isinstance(item, DecodedEvent):
                continue  # the batch agent dead-letters it
            for delta in facts_for(item.envelope, item.payload).deltas:
                key = delta.key
                for counter, amount in delta.counts.items():
                    name = live_key(
                        message.partition, key.business_date.isoformat(), key.unit_code,
                        key.agency_code, key.procedure_code, counter,
                    )  # fmt: skip
                    live[name] += amount

    return live
