"""A worker decodes each message in one pass (header and typed payload together): it must give
exactly what the two-step decoding gives (envelope, then payload model), and a refused message
must still be dead-lettered with the reason that names the field."""

from typing import ClassVar

import orjson

from events.chain import canonical_payload
from events.kafka.messages import message_for
from events.registry import EventRegistry, default_registry
from events.streaming.decoding import DeadLetter, DecodedEvent, decode
from schemas.envelope import EventEnvelope, EventPayload
from tests.unit.history import simulated_history


def message_value(envelope: EventEnvelope) -> bytes:
    row = envelope.model_dump()
    return message_for({**row, "payload_json": canonical_payload(row["payload"])}).value


def decoded(registry: EventRegistry, value: bytes) -> DecodedEvent | DeadLetter:
    return decode(registry, b"key", value, "payments.events.v1", 0, 7)


def test_one_pass_decoding_equals_the_two_step_decoding_for_every_simulated_event() -> None:
    registry = default_registry()
    history = simulated_history(60)
    assert len({envelope.event_type for envelope, _ in history}) >= 8  # many types covered
    for envelope, payload in history:
        item = decoded(registry, message_value(envelope))
        assert isinstance(item, DecodedEvent), item
        assert not isinstance(item.envelope, EventEnvelope)  # the one pass took it, no fallback
        assert type(item.payload) is type(payload) and item.payload == payload
        header = item.envelope.model_dump(exclude={"payload"})
        assert header == envelope.model_dump(exclude={"payload"})
        assert item.envelope.occurred_at.utcoffset() is not None


def test_a_refused_message_is_dead_lettered_with_the_field_named() -> None:
    registry = default_registry()
    envelope, _ = simulated_history(3)[0]
    document = orjson.loads(message_value(envelope))

    bad_field = {**document, "payload": {**document["payload"], "unit_code": 17}}
    item = decoded(registry, orjson.dumps(bad_field))
    assert isinstance(item, DeadLetter) and "payload.unit_code" in item.reason

    unknown = {**document, "event_type": "NoSuchEvent"}
    item = decoded(registry, orjson.dumps(unknown))
    assert isinstance(item, DeadLetter) and "NoSuchEvent" in item.reason

    assert isinstance(decoded(registry, b"not json"), DeadLetter)


class Renamed(EventPayload):
    event_type: ClassVar[str] = "Renamed"
    schema_version: ClassVar[int] = 1
    name: str


class RenamedV2(EventPayload):
    event_type: ClassVar[str] = "Renamed"
    schema_version: ClassVar[int] = 2
    first_name: str
    last_name: str


def test_each_schema_version_of_a_type_decodes_to_its_own_model() -> None:
    registry = EventRegistry({"test": (Renamed, RenamedV2)})
    envelope, _ = simulated_history(1)[0]
    document = orjson.loads(message_value(envelope))
    v1 = {**document, "event_type": "Renamed", "schema_version": 1, "payload": {"name": "An"}}
    v2 = {**v1, "schema_version": 2, "payload": {"first_name": "An", "last_name": "Le"}}
    first, second = decoded(registry, orjson.dumps(v1)), decoded(registry, orjson.dumps(v2))
    assert isinstance(first, DecodedEvent) and first.payload == Renamed(name="An")
    assert isinstance(second, DecodedEvent)
    assert second.payload == RenamedV2(first_name="An", last_name="Le")
    crossed = {**v2, "payload": {"name": "An"}}  # a v1 payload under version 2
    item = decoded(registry, orjson.dumps(crossed))
    assert isinstance(item, DeadLetter) and "payload.first_name" in item.reason
