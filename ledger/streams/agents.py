"""The ledger's Faust agent: a thin shell. It takes batches of payment events, posts them with the
pure posting rules, and writes each batch in one PostgreSQL transaction, effectively once."""

from collections.abc import Awaitable, Callable

import asyncpg
import faust
import structlog

from events.registry import EventRegistry
from events.streaming.consumers import BatchConsumer
from events.streaming.decoding import DecodedEvent
from events.streaming.runner import ConsumerFactory, consume_batches
from ledger.adapters.journal import Journal
from ledger.domain.posting import entry_for

LEDGER_CONSUMER = "ledger"
log = structlog.get_logger("ledger.agent")


async def post_events(connection: asyncpg.Connection, events: list[DecodedEvent]) -> None:
    entries = [
        entry
        for entry in (entry_for(event.envelope, event.payload) for event in events)
        if entry is not None
    ]
    await Journal.post_on(connection, entries)


def ledger_consumer(pool: Callable[[], Awaitable[asyncpg.Pool]]) -> ConsumerFactory:
    async def consumer() -> BatchConsumer:
        return BatchConsumer(await pool(), LEDGER_CONSUMER, post_events)

    return consumer


def register_ledger_agent(
    app: faust.App,
    topic: faust.TopicT,
    dead_letter_topic: faust.TopicT,
    consumer: ConsumerFactory,
    registry: EventRegistry,
    *,
    batch_max: int,
    within_s: float,
) -> faust.types.AgentT[bytes]:
    @app.agent(topic, name=LEDGER_CONSUMER)
    async def post_to_ledger(stream: faust.StreamT[bytes]) -> None:
        await consume_batches(
            stream, consumer, registry, dead_letter_topic, batch_max=batch_max, within_s=within_s
        )

    return post_to_ledger
