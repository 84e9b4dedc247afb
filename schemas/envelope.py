"""The event envelope: what every stored event and every Kafka message carries around its payload.

`NewEvent` is what a writer hands to the event store. `EventEnvelope` is what the store recorded:
the same fields plus the stream version, the global position and the time it was recorded. Payloads
stay plain JSON here; `events.registry` validates them against the versioned payload models.
"""

from typing import Annotated, Any, ClassVar, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt

from schemas.time import UtcInstant

# "<category>-<id>", e.g. "payment-7f0c…": the category routes the stream; the id is opaque.
STREAM_ID_PATTERN = r"^[a-z][a-z0-9_]{1,39}-[A-Za-z0-9_.:\-]{1,160}$"
EVENT_TYPE_PATTERN = r"^[A-Z][A-Za-z0-9]{2,79}$"
# "<role>:<who>", e.g. "citizen:079123456789", "clerk:hcm-q1-07", "system:expiry".
ACTOR_PATTERN = r"^(citizen|clerk|finance|auditor|system|gateway|bank):[A-Za-z0-9_.@:\-]{1,120}$"

StreamId = Annotated[str, Field(pattern=STREAM_ID_PATTERN)]
EventType = Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]
Actor = Annotated[str, Field(pattern=ACTOR_PATTERN)]
SchemaVersion = Annotated[StrictInt, Field(ge=1, le=1000)]
StreamVersion = Annotated[StrictInt, Field(ge=1)]
Position = Annotated[StrictInt, Field(ge=1)]
# The payload is checked against its versioned model (events.registry) when it is appended and
# when it is read by a consumer, and the store's canonical encoding refuses anything that is not
# plain JSON (floats included). A generic deep JSON check here as well cost as much as the model
# validation itself on large payloads (a statement chunk of 1000 lines), for nothing more.
Payload = dict[str, Any]
Model = TypeVar("Model", bound=BaseModel)


class EventPayload(BaseModel):
    """Base of every versioned payload model: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int]

    def to_payload(self) -> Payload:
        """The payload as JSON-compatible data (UUIDs and instants as strings)."""
        return self.model_dump(mode="json")


class NewEvent(BaseModel):
    """An event as its writer submits it; the store assigns stream version and position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: EventType
    schema_version: SchemaVersion
    occurred_at: UtcInstant
    correlation_id: UUID
    causation_id: UUID | None = None
    actor: Actor
    payload: Payload

    # The model class `payload` is a dump of (from_payload, from_dump), and that dump: while
    # `payload` is still the same dict, the store need not validate it again (3 µs per statement
    # line). A copy with another payload, or an event built from a dict, is validated.
    _dumped_by: tuple[type["EventPayload"], Payload] | None = PrivateAttr(default=None)

    @classmethod
    def from_payload(cls, payload: EventPayload, **envelope: Any) -> Self:
        """Wrap a typed payload, taking its event type and schema version from its class."""
        return cls.from_dump(type(payload), payload.to_payload(), **envelope)

    @classmethod
    def from_dump(cls, model: type[EventPayload], dump: Payload, **envelope: Any) -> Self:
        """Wrap `dump`, which is `model(...).to_payload()` of a model that validated, wherever
        that ran. Parts of it may be `orjson.Fragment`s, JSON already encoded canonically (keys
        sorted, `events.chain.canonical_model_dump`), which the store writes as they are: a
        statement's lines are validated and encoded in parsing processes, and only the bytes
        come back (rebuilding a million models to dump them again would cost seconds)."""
        event = cls(
            event_type=model.event_type,
            schema_version=model.schema_version,
            payload=dump,
            **envelope,
        )
        event._dumped_by = (model, event.payload)  # the dict as validation left it (a copy)
        return event

    def dumped_by(self) -> type[EventPayload] | None:
        """The model this event's payload is a validated dump of, if it was built from one
        (and the dict has not been replaced since); None for a payload to validate."""
        if self._dumped_by is None or self._dumped_by[1] is not self.payload:
            return None
        return self._dumped_by[0]


class EventHeader(BaseModel):
    """What the store recorded around a payload: an envelope's every field but the payload.
    Consumers read this part; `events.registry` decodes messages into subclasses of it whose
    payload is already the typed model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: Position
    event_id: UUID
    stream_id: StreamId
    stream_version: StreamVersion
    event_type: EventType
    schema_version: SchemaVersion
    occurred_at: UtcInstant
    recorded_at: UtcInstant
    correlation_id: UUID
    causation_id: UUID | None = None
    actor: Actor


class EventEnvelope(EventHeader):
    """An event as recorded: the single shape read back from the store and sent over Kafka."""

    payload: Payload

    @classmethod
    def from_store(cls, fields: dict[str, Any]) -> Self:
        """An envelope rebuilt from the store's own row, without validation: what pydantic's
        `model_construct` does, minus its loop over the fields (a replay rebuilds a million).
        Only for rows the store wrote after validating them; `fees audit verify` proves them
        unchanged since."""
        return unchecked(cls, fields)


def unchecked(model: type[Model], fields: dict[str, Any]) -> Model:
    """A `model` holding `fields` (every field, none extra) as they are, without validation:
    what pydantic's `model_construct` does, minus its Python loop over the fields (a third of
    the cost). Only for values already checked against the model, or stored after that."""
    built = model.__new__(model)
    object.__setattr__(built, "__dict__", fields)
    object.__setattr__(built, "__pydantic_fields_set__", set(fields))
    object.__setattr__(built, "__pydantic_extra__", None)
    object.__setattr__(built, "__pydantic_private__", None)
    return built
