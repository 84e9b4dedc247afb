"""The loop every batch agent runs: take events, decode, dead-letter the bad ones, apply."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import faust
import structlog

from events.registry import EventRegistry
from events.streaming.consumers import BatchOutcome
from events.streaming.decoding import DeadLetter, DecodedEvent, decode

log = structlog.get_logger("events.streaming")


class Applier(Protocol):
    """What an agent hands its batches to (BatchConsumer in production, a recorder in tests)."""

    consumer_name: str

    async def consume(
        self, topic: str, items: Sequence[DecodedEvent | DeadLetter]
    ) -> BatchOutcome: ...


ConsumerFactory = Callable[[], Awaitable[Applier]]


async def consume_batches(
    stream: faust.StreamT[bytes],
    consumer: ConsumerFactory,
    registry: EventRegistry,
    dead_letter_topic: faust.TopicT,
    *,
    batch_max: int,
    within_s: float,
) -> None:
    """Batches bounded by size and time, so throughput does not hang on one round trip per
    event. A bad message goes to the dead-letter topic (and table) with its reason; the rest of
    the batch goes on. Offsets are acknowledged by Faust after the batch's transaction."""
    applier = await consumer()
    # take_events is on faust's Stream class but missing from its StreamT protocol.
    batches = stream.take_events(batch_max, within=within_s)  # type: ignore[attr-defined]
    async for events in batches:
        if not events:
            continue
        items = [
            decode(
                registry,
                event.message.key,
                event.message.value,
                event.message.topic,
                event.message.partition,
                event.message.offset,
            )
            for event in events
        ]
        for item in items:
            if isinstance(item, DeadLetter):
                await dead_letter_topic.send(
                    key=item.key, value=item.value, headers=[("reason", item.reason.encode())]
                )
        topic = events[0].message.topic
        outcome = await applier.consume(topic, items)
        if outcome.dead_letters or outcome.duplicates:
            log.warning(
                "stream.batch_anomalies", consumer=applier.consumer_name,
                dead_letters=outcome.dead_letters, duplicates=outcome.duplicates,
            )  # fmt: skip
