"""Turning raw Kafka messages back into validated events, or into dead letters with a reason."""

from dataclasses import dataclass

from pydantic import ValidationError

from events.errors import EventStoreError
from events.kafka.messages import envelope_from_message
from events.registry import EventRegistry
from schemas.envelope import EventHeader, EventPayload


@dataclass(frozen=True)
class DecodedEvent:
    envelope: EventHeader
    payload: EventPayload
    partition: int
    offset: int


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    reason: str


def decode(
    registry: EventRegistry,
    key: bytes | None,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
) -> DecodedEvent | DeadLetter:
    """A message that fails the envelope or its payload model becomes a dead letter, naming the
    field; processing goes on with the next one."""
    if value is not None:
        try:
            recorded = registry.recorded_events.validate_json(value)
            return DecodedEvent(recorded, recorded.payload, partition, offset)  # type: ignore[attr-defined]
        except ValidationError:
            pass  # decoded again in two steps below, for an error that names the field
    try:
        envelope = envelope_from_message(value)
        payload = registry.parse(envelope)
    except EventStoreError as error:
        return DeadLetter(key, value, topic, partition, offset, f"{error.code}: {error}")
    return DecodedEvent(envelope, payload, partition, offset)
