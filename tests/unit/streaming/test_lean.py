"""Proves the worker's leaner Faust parts (events/streaming/lean.py) keep what the worker relies
on: the app uses them; a message reaches the agent as the bytes Kafka delivered, headers and
offsets intact, and a value-less message still arrives (to be dead-lettered, not dropped); the
monitor still records when a partition's stream last took an event (Faust's stalled-stream
warnings read it); the producer buffer reports its real size; the fetch-ahead buffer is the
configured one. No broker."""

from pathlib import Path

import faust
from faust.types import TP, Message

from entrypoints.settings import load_settings
from entrypoints.worker import streaming_options
from events.streaming.app import create_streaming_app
from events.streaming.lean import LeanMonitor, LeanProducerBuffer, RawSchema
from tests.unit.streaming.test_transport import PARTITION, offline_app


def kafka_message(value: bytes | None) -> Message:
    return Message(
        PARTITION.topic, PARTITION.partition, 41, 0.0, 0, [("event_type", b"PaymentCaptured")],
        b"payment-1", value, None, tp=PARTITION,
    )  # fmt: skip


async def test_the_worker_app_uses_the_lean_monitor_and_producer_buffer(tmp_path: Path) -> None:
    app = offline_app(tmp_path)
    assert isinstance(app.monitor, LeanMonitor)
    assert isinstance(app.producer.buffer, LeanProducerBuffer)


async def test_raw_schema_hands_over_the_delivered_bytes(tmp_path: Path) -> None:
    app = offline_app(tmp_path)
    decode = RawSchema().compile(app)
    delivered = kafka_message(b'{"position":7}')
    event = await decode(delivered)
    assert isinstance(event, faust.Event)
    assert (event.key, event.value, event.message) == (b"payment-1", b'{"position":7}', delivered)
    assert event.headers == {"event_type": b"PaymentCaptured"}
    assert event.message.offset == 41


async def test_raw_schema_keeps_a_message_without_value(tmp_path: Path) -> None:
    event = await RawSchema().compile(offline_app(tmp_path))(kafka_message(None))
    assert event.value is None


async def test_lean_monitor_still_records_when_a_stream_took_an_event(tmp_path: Path) -> None:
    app = offline_app(tmp_path)
    monitor = app.monitor
    other = TP("payments.events.v1", 3)
    assert PARTITION not in monitor.stream_inbound_time
    state = monitor.on_stream_event_in(PARTITION, 41, None, None)  # type: ignore[arg-type]
    assert state is None
    assert PARTITION in monitor.stream_inbound_time
    assert other not in monitor.stream_inbound_time


async def test_lean_producer_buffer_reports_the_pending_sends(tmp_path: Path) -> None:
    buffer = offline_app(tmp_path).producer.buffer
    assert buffer.size == 0
    buffer.pending.put_nowait(object())  # type: ignore[arg-type]
    buffer.pending.put_nowait(object())  # type: ignore[arg-type]
    assert buffer.size == 2


async def test_the_worker_buffer_size_comes_from_the_settings(tmp_path: Path) -> None:
    settings = load_settings(stream_buffer_maxsize=1234, stream_data_dir=tmp_path)
    app = create_streaming_app(streaming_options(settings))
    assert app.conf.stream_buffer_maxsize == 1234
