"""Faust's aiokafka transport with a cheaper hand-over of each fetched message, and fetches
that wait for a worthwhile amount of data (FETCH_MIN_BYTES, at most FETCH_MAX_WAIT_MS).

Faust's consumer hands every fetched message to the conductor through
`Service.wait_first(callback(message), suspend_flow.wait())`, so that a rebalance can abandon a
hand-over stuck on a full agent queue. That call creates four tasks and an `asyncio.wait` per
message: it was the largest single cost of a worker (bench/stream_e2e.py, 2026-12-02: the
pipeline sustained about 7,200 events/s with it and about 11,500 without it).

This consumer awaits the hand-over directly when it cannot block on the flow: the consumer's
flow is not suspended, flow control is active and no queue of the partition's channels is full.
Then the conductor's callback runs to its end without waiting on any of them. When a queue is
full (the agent is behind), it first waits, once, until Faust reports the queue drained, instead
of racing message after message while the queue stays full: that cost kept a worker that fell
behind from catching up. A suspended flow falls back to Faust's own race.

Which messages are handed over, and in which order, is unchanged. Messages of an older consumer
generation are still dropped by the stream, and correctness never rests on Faust anyway (the
effectively-once PostgreSQL write, events/streaming/consumers.py). The loop is Faust 0.15.3's
`Consumer._drain_messages` with these changes; tests/unit/streaming/test_transport.py holds
every path.
"""

import asyncio
from typing import Any, cast

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode import Service, ServiceT

from events.streaming.lean import LeanProducerBuffer

TRANSPORT_SCHEME = "fees-kafka"
DRAIN_WAIT_MAX_S = 1.0  # then Faust's per-message race takes over (a queue cleared on a rebalance)
YIELD_EVERY_MESSAGES = 100  # Faust's own: let other tasks run during a long fetched batch
# A fetch is answered once this much data is there, or after the wait, whichever comes first.
# Faust's consumer asks for 1 byte (an answer per trickle of messages); at 10,000 events/s this
# floor cut the workers' CPU per event by about a tenth (bench/stream_e2e.py, 2026-12-04) and adds
# at most the wait to an event's lag.
FETCH_MIN_BYTES = 256 * 1024
FETCH_MAX_WAIT_MS = 100


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, whose fetches wait for a worthwhile amount of data."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes neither setting; the consumer hands both to its fetcher when it starts.
        consumer._fetch_min_bytes = FETCH_MIN_BYTES
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._drain_waits: dict[TP, asyncio.Event] = {}

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """Fetch batches with getmany and hand each message to the conductor, until the
        consumer or its fetcher stops."""
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        since_yield = 0
        while not (consumer_should_stop() or fetcher_should_stop()):
            records = self.getmany(timeout=1.0)
            await self.sleep(0)  # getmany may be called in a loop that never yields
            if self.should_stop:
                continue
            async for tp, message in records:
                since_yield += 1
                if since_yield > YIELD_EVERY_MESSAGES:
                    await asyncio.sleep(0)
                    since_yield = 0
                await self._read(tp, message)

    async def _read(self, tp: TP, message: Message) -> None:
        read_offset = self._read_offset[tp]
        offset = message.offset
        if read_offset is not None and offset < read_offset:
            return  # read already (Faust drops it the same way)
        if read_offset and offset - read_offset > 1 and self.app.topics.acks_enabled_for(tp.topic):
            await self._add_gap(tp, read_offset + 1, offset)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        await self._hand_over(tp, message)
        self._read_offset[tp] = offset

    async def _hand_over(self, tp: TP, message: Message) -> None:
        if self.hand_over_cannot_block(tp):
            await self.callback(message)  # the common case: one check per message
            return
        if self._flowing():
            # A full agent queue: wait once until Faust reports it drained (to the pressure-drop
            # size, when it also resumes fetching the partition), rather than racing every
            # message while the queue stays full.
            drained = self._drain_waits.setdefault(tp, asyncio.Event())
            await self.wait_first(
                drained.wait(), self.suspend_flow.wait(), timeout=DRAIN_WAIT_MAX_S
            )
            if self.hand_over_cannot_block(tp):
                await self.callback(message)
                return
        await self.wait_first(self.callback(message), self.suspend_flow.wait())

    def hand_over_cannot_block(self, tp: TP) -> bool:
        """True when the conductor's callback for `tp` would neither wait for flow control nor
        for room in an agent's queue (the queues of the channels it hands `tp`'s messages to)."""
        if not self._flowing():
            return False
        channels = self.app.topics._tp_index.get(tp, ())  # type: ignore[attr-defined]
        return not any(channel.queue.full() for channel in channels)

    def _flowing(self) -> bool:
        return not self.suspend_flow.is_set() and self.app.flow_control.is_active()

    def on_buffer_drop(self, tp: TP) -> None:
        """Faust's conductor calls this when a queue under pressure has drained."""
        super().on_buffer_drop(tp)
        drained = self._drain_waits.pop(tp, None)
        if drained is not None:
            drained.set()


class Producer(faust_aiokafka.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        buffer = LeanProducerBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        buffer.threaded_producer = getattr(self.buffer, "threaded_producer", None)
        self.buffer = buffer  # the same buffer, with a cheaper size (events/streaming/lean.py)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
    Producer = Producer


def register() -> str:
    """Make `fees-kafka://host:port` resolve to this transport through Faust's registry of
    transports; returns the URL scheme to use in the app's broker URL."""
    TRANSPORTS.aliases[TRANSPORT_SCHEME] = f"{__name__}:Transport"
    return TRANSPORT_SCHEME
