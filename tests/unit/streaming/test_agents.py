"""Proves the agents are thin shells, through Faust's test context (no broker, no database): the
ledger agent hands decoded batches to its applier and sends a malformed message to the dead-letter
topic with the reason, and the live metrics agent counts into its Faust table; a batch the database
fails to store is retried until it is stored, never acknowledged unapplied."""

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust

from events.chain import canonical_payload
from events.errors import InfrastructureError
from events.kafka.messages import KafkaMessage, message_for
from events.registry import default_registry
from events.streaming import runner
from events.streaming.consumers import BatchOutcome
from events.streaming.decoding import DeadLetter, DecodedEvent
from events.streaming.runner import register_batch_agent
from metrics.streams.live_counters import live_counters
from schemas.envelope import EventEnvelope
from tests.unit.history import simulated_history


class RecordingApplier:
    consumer_name = "test"

    def __init__(self) -> None:
        self.items: list[DecodedEvent | DeadLetter] = []

    async def consume(self, topic: str, items: Sequence[DecodedEvent | DeadLetter]) -> BatchOutcome:
        self.items.extend(items)
        return BatchOutcome(len(items), 0, 0)


class RecordingTopic:
    """Stands in for the dead-letter topic: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **message: Any) -> None:
        self.sent.append(message)


def relayed(envelope: EventEnvelope) -> KafkaMessage:
    """The message the relay sends for an event (it reads the payload's stored bytes)."""
    row = envelope.model_dump()
    return message_for({**row, "payload_json": canonical_payload(row["payload"])})


def messages(count: int) -> list[tuple[bytes, bytes]]:
    history = simulated_history(20)[:count]
    return [(message.key, message.value) for message in map(relayed, (e for e, _ in history))]


def offline_app(data_dir: Path) -> faust.App:
    """An app that never reaches a broker (the agents' test context), its state in data_dir."""
    name = f"test-{uuid.uuid4().hex[:6]}"
    return faust.App(
        name, broker="kafka://127.0.0.1:1", store="memory://", datadir=str(data_dir / name)
    )


async def test_projection_agent_batches_and_dead_letters(tmp_path: Path) -> None:
    app = offline_app(tmp_path)
    topic = app.topic("payments.events.v1", key_type=bytes, value_type=bytes)
    applier, dead = RecordingApplier(), RecordingTopic()

    async def consumer() -> RecordingApplier:
        return applier

    agent = register_batch_agent(
        app, "projections", topic, dead, [consumer], default_registry(),  # type: ignore[arg-type, list-item]
        batch_max=5, within_s=0.01,
    )  # fmt: skip
    good = messages(12)
    async with agent.test_context() as context:
        for key, value in good[:6]:
            await context.put(value, key=key)
        await context.put(b'{"event_type": "PaymentCaptured"}', key=b"payment-broken")
        for key, value in good[6:]:
            await context.put(value, key=key)
    decoded = [item for item in applier.items if isinstance(item, DecodedEvent)]
    dead_letters = [item for item in applier.items if isinstance(item, DeadLetter)]
    assert [event.envelope.stream_id.encode() for event in decoded] == [key for key, _ in good]
    assert len(dead_letters) == 1 and "envelope.position" in dead_letters[0].reason
    assert len(dead.sent) == 1 and dead.sent[0]["key"] == b"payment-broken"


async def test_live_counters_count_each_event_once_into_the_faust_table(
    tmp_path: Path,
) -> None:
    app = offline_app(tmp_path)
    topic = app.topic("payments.events.v1", key_type=bytes, value_type=bytes)
    live = live_counters(app, partitions=1)
    applier = RecordingApplier()

    async def consumer() -> RecordingApplier:
        return applier

    agent = register_batch_agent(
        app, "projections", topic, RecordingTopic(), [consumer], default_registry(),  # type: ignore[arg-type, list-item]
        batch_max=7, within_s=0.01, on_batch=live.apply,
    )  # fmt: skip
    history = simulated_history(20)
    filed_online = sum(
        1 for _, event in history
        if event.event_type == "DossierFiled" and event.channel == "online"  # type: ignore[attr-defined]
    )  # fmt: skip
    async with agent.test_context() as context:
        for envelope, _ in history + history[:10]:  # the first ten delivered twice
            message = relayed(envelope)
            await context.put(message.value, key=message.key)
    assert live.totals("filed_online") == filed_online > 0


class FlakyApplier:
    """Fails its first `failures` batches as a database that is down would, then stores."""

    consumer_name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0

    async def consume(self, topic: str, items: Sequence[DecodedEvent | DeadLetter]) -> BatchOutcome:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise (InfrastructureError if self.attempts % 2 else ConnectionResetError)("db down")
        return BatchOutcome(len(items), 0, 0)


async def test_a_batch_is_retried_until_stored_never_passed_over(monkeypatch: Any) -> None:
    """Faust acknowledges a batch even when its processing raises, so a failed batch must not
    leave the loop: `stored` returns only once the batch is applied."""
    monkeypatch.setattr(runner, "STORE_RETRY_PAUSE_MIN_S", 0.001)
    applier = FlakyApplier(failures=3)
    outcome = await runner.stored(applier, "payments.events.v1", [])  # type: ignore[arg-type]
    assert applier.attempts == 4 and outcome == BatchOutcome(0, 0, 0)
