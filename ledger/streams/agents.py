"""What the ledger gives the Faust projection agent: a batch applier that posts events with the pure
posting rules, each batch in one PostgreSQL transaction, effectively once."""

from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from events.streaming.consumers import BatchConsumer, ConsumerFactory
from events.streaming.decoding import DecodedEvent
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
