"""The loop every batch agent runs: take events, decode, dead-letter the bad ones, apply."""

import asyncio
from collections.abc import Callable, Sequence

import faust
import structlog

from events.registry import EventRegistry
from events.streaming.consumers import Applier, BatchOutcome, ConsumerFactory
from events.streaming.decoding import DeadLetter, DecodedEvent, decode

log = structlog.get_logger("events.streaming")
STORE_RETRY_PAUSE_MIN_S = 0.5
STORE_RETRY_PAUSE_MAX_S = 30.0


async def stored(
    applier: Applier, topic: str, items: Sequence[DecodedEvent | DeadLetter]
) -> BatchOutcome:
    """The batch applied and committed, however long the database takes to come back.

    Faust acknowledges a batch's events when the loop moves on, and also when it raises (its
    `take_events` acks in a `finally`): a batch whose transaction failed would be committed to
    Kafka unapplied, and the next batches would move the progress past it. So a failure is
    retried, with a growing pause, until the batch is stored; the partition waits meanwhile
    (a bug that fails every time stops it, loudly, rather than losing events)."""
    pause_s = STORE_RETRY_PAUSE_MIN_S
    while True:
        try:
            return await applier.consume(topic, items)
        except Exception as error:  # every failure is retried, none skipped
            log.error(
                "stream.batch_not_stored", consumer=applier.consumer_name, topic=topic,
                events=len(items), error=str(error), retry_in_s=pause_s,
            )  # fmt: skip
            await asyncio.sleep(pause_s)
            pause_s = min(pause_s * 2, STORE_RETRY_PAUSE_MAX_S)


async def consume_batches(
    stream: faust.StreamT[bytes],
    consumers: Sequence[ConsumerFactory],
    registry: EventRegistry,
    dead_letter_topic: faust.TopicT,
    *,
    batch_max: int,
    within_s: float,
    on_batch: Callable[[list[DecodedEvent]], None] | None = None,
) -> None:
    """Batches bounded by size and time, so throughput does not hang on one round trip per
    event. Each batch is decoded once and handed to every applier (each in its own transaction,
    with its own progress). A bad message goes to the dead-letter topic (and table) with its
    reason; the rest of the batch goes on. Faust acknowledges the offsets after the batch."""
    appliers = [await consumer() for consumer in consumers]
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
                headers = [("reason", item.reason.encode()), ("source-topic", item.topic.encode())]
                await dead_letter_topic.send(key=item.key, value=item.value, headers=headers)
        if on_batch is not None:  # in-worker caches (Faust tables) see every decoded event
            on_batch([item for item in items if isinstance(item, DecodedEvent)])
        by_topic: dict[str, list[DecodedEvent | DeadLetter]] = {}
        for event, item in zip(events, items, strict=True):
            by_topic.setdefault(event.message.topic, []).append(item)
        for topic, topic_items in by_topic.items():  # progress is kept per topic and partition
            for applier in appliers:
                outcome = await stored(applier, topic, topic_items)
                if outcome.dead_letters or outcome.duplicates:
                    log.info(
                        "stream.batch_anomalies", consumer=applier.consumer_name, topic=topic,
                        dead_letters=outcome.dead_letters, duplicates=outcome.duplicates,
                    )  # fmt: skip


def register_batch_agent(
    app: faust.App,
    name: str,
    topic: faust.TopicT,
    dead_letter_topic: faust.TopicT,
    consumers: Sequence[ConsumerFactory],
    registry: EventRegistry,
    *,
    batch_max: int,
    within_s: float,
    on_batch: Callable[[list[DecodedEvent]], None] | None = None,
) -> faust.types.AgentT[bytes]:
    """One agent feeding several projections (the ledger and the metrics): decoding a message
    costs more than applying it, so it is decoded once, not once per projection."""

    @app.agent(topic, name=name)
    async def project(stream: faust.StreamT[bytes]) -> None:
        await consume_batches(
            stream, consumers, registry, dead_letter_topic, batch_max=batch_max,
            within_s=within_s, on_batch=on_batch,
        )  # fmt: skip

    return project
