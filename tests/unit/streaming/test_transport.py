"""Proves the worker's Faust consumer (events/streaming/transport.py) hands fetched messages over
as Faust does: every message once, in offset order, a re-fetched offset skipped. While the
hand-over cannot block it is awaited directly (no per-message race); when an agent's queue is
full it waits once for Faust's word that the queue drained, then hands over directly; and while
the flow is suspended it races the suspension as in Faust, so a rebalance can abandon a stuck
hand-over instead of hanging. No broker: the consumer's fetch and callback are replaced."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka.consumer import consumer as aiokafka_consumer_module
from faust.types import TP, Message
from mode import Service

from events.streaming import transport
from events.streaming.app import StreamingOptions, create_streaming_app
from events.streaming.transport import Consumer, Transport

PARTITION = TP("payments.events.v1", 0)


def offline_app(data_dir: Path) -> faust.App:
    """The worker's app, never started: flow control resumed as after a partition assignment."""
    app = create_streaming_app(
        StreamingOptions(
            bootstrap_servers="127.0.0.1:1", partitions=1, replication_factor=1,
            session_timeout_s=10, heartbeat_interval_s=1, rebalance_timeout_s=10,
            commit_interval_s=1, recovery_delay_s=0, web_enabled=False, web_port=6066,
            data_dir=data_dir, buffer_maxsize=4096,
        )
    )  # fmt: skip
    app.flow_control.resume()
    return app


def message(offset: int) -> Message:
    return Message(
        PARTITION.topic, PARTITION.partition, offset, 0.0, 0, [], b"k", b"v", None, tp=PARTITION
    )


class FullQueue:
    """An agent's queue that stays full until `drain` (Faust's queue drains as the agent reads)."""

    pressure_drop_size = 0

    def __init__(self) -> None:
        self.is_full = True

    def full(self) -> bool:
        return self.is_full

    def qsize(self) -> int:
        return 1 if self.is_full else 0

    def drain(self) -> None:
        self.is_full = False


class Channel:
    def __init__(self, queue: object) -> None:
        self.queue = queue


async def drain(
    consumer: Consumer, offsets: list[int], callback: Callable[[Message], Awaitable[None]]
) -> list[str]:
    """Run the consumer's drain loop over one fetched batch; returns which path each message
    took ("direct" or "raced")."""
    fetcher = Service()
    paths: list[str] = []

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109
        for offset in offsets:
            yield PARTITION, message(offset)
        fetcher._stopped.set()  # one batch, then the fetcher stops

    original_wait_first = consumer.wait_first
    racing = False

    async def wait_first(*coroutines: Any, **options: Any) -> Any:
        nonlocal racing
        racing = True
        try:
            return await original_wait_first(*coroutines, **options)
        finally:
            racing = False

    async def recording_callback(delivered: Message) -> None:
        paths.append("raced" if racing else "direct")
        await callback(delivered)

    consumer.getmany = getmany  # type: ignore[method-assign,assignment]
    consumer.callback = recording_callback
    consumer.wait_first = wait_first  # type: ignore[method-assign]
    await asyncio.wait_for(consumer._drain_messages(fetcher), timeout=5)
    return paths


async def test_the_app_runs_on_the_project_transport(tmp_path: Path) -> None:
    app = offline_app(tmp_path)
    assert isinstance(app.transport, Transport)
    assert isinstance(app.consumer, Consumer)


async def test_messages_are_handed_over_directly_once_each_in_order(tmp_path: Path) -> None:
    consumer = offline_app(tmp_path).consumer
    assert isinstance(consumer, Consumer)
    consumer._read_offset[PARTITION] = 3  # offsets below 3 were read before a re-fetch
    delivered: list[int] = []

    async def callback(handed: Message) -> None:
        delivered.append(handed.offset)

    paths = await drain(consumer, [1, 2, 3, 4, 5], callback)
    assert delivered == [3, 4, 5]
    assert paths == ["direct"] * 3
    assert consumer._read_offset[PARTITION] == 5


async def test_a_full_queue_races_the_flow_so_a_rebalance_can_abandon_it(tmp_path: Path) -> None:
    app = offline_app(tmp_path)
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    app.topics._tp_index[PARTITION] = {Channel(FullQueue())}  # type: ignore[attr-defined]
    stuck = asyncio.Event()

    async def callback(handed: Message) -> None:
        if handed.offset == 0:
            consumer.suspend_flow.set()  # a rebalance begins while the hand-over waits
            await stuck.wait()  # never set: Faust's race must give up on it

    paths = await drain(consumer, [0, 1], callback)
    assert paths == ["raced", "raced"]
    assert not stuck.is_set()
    assert consumer._read_offset[PARTITION] == 1


async def test_a_full_queue_waits_once_for_the_drain_then_hands_over_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "DRAIN_WAIT_MAX_S", 60.0)  # only the drain may end the wait
    app = offline_app(tmp_path)
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    queue = FullQueue()
    app.topics._tp_index[PARTITION] = {Channel(queue)}  # type: ignore[attr-defined]

    def conductor_reports_drained() -> None:
        queue.drain()
        consumer.on_buffer_drop(PARTITION)  # what Faust's conductor calls on a pressure drop

    asyncio.get_running_loop().call_later(0.05, conductor_reports_drained)
    delivered: list[int] = []

    async def callback(handed: Message) -> None:
        delivered.append(handed.offset)

    paths = await drain(consumer, [7, 8], callback)
    assert delivered == [7, 8]
    assert paths == ["direct", "direct"]


async def test_a_suspended_flow_is_never_handed_over_directly(tmp_path: Path) -> None:
    consumer = offline_app(tmp_path).consumer
    assert isinstance(consumer, Consumer)
    assert consumer.hand_over_cannot_block(PARTITION)
    consumer.suspend_flow.set()
    assert not consumer.hand_over_cannot_block(PARTITION)


async def test_the_worker_consumer_fetches_with_the_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread's aiokafka consumer hands the floor to the fetcher it builds when it starts
    (Faust itself would ask for 1 byte and wait up to 1.5 s)."""
    app = offline_app(tmp_path)
    thread = app.consumer._thread  # type: ignore[attr-defined]
    kafka_consumer = thread._create_worker_consumer(app.transport)
    built: dict[str, Any] = {}

    class FetcherBuilt(Exception):
        pass

    def fetcher(*args: Any, **options: Any) -> None:
        built.update(options)
        raise FetcherBuilt

    async def no_broker() -> None:
        return None

    monkeypatch.setattr(aiokafka_consumer_module, "Fetcher", fetcher)
    monkeypatch.setattr(kafka_consumer._client, "bootstrap", no_broker)
    monkeypatch.setattr(kafka_consumer, "_wait_topics", no_broker)
    with pytest.raises(FetcherBuilt):
        await kafka_consumer.start()
    assert built["fetch_min_bytes"] == transport.FETCH_MIN_BYTES == 256 * 1024
    assert built["fetch_max_wait_ms"] == transport.FETCH_MAX_WAIT_MS == 100
