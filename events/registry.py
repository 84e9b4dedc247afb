"""Which event types exist, which model validates each, and which context (topic) owns it."""

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from events.errors import EventValidationError, UnknownEventTypeError
from schemas.envelope import EventEnvelope, EventPayload, NewEvent, Payload
from schemas.events import EVENT_MODELS_BY_CONTEXT


@dataclass(frozen=True)
class RegisteredEventType:
    model: type[EventPayload]
    context: str


def problems_of(error: ValidationError, prefix: str) -> list[tuple[str, str]]:
    """(field path, message) pairs from a pydantic error, e.g. ("payload.amount", …)."""
    return [
        (".".join([prefix, *(str(part) for part in detail["loc"])]), detail["msg"])
        for detail in error.errors()
    ]


class EventRegistry:
    """Looks event types up by (type, schema version); refuses anything it does not know."""

    def __init__(self, models_by_context: Mapping[str, tuple[type[EventPayload], ...]]) -> None:
        self._types: dict[tuple[str, int], RegisteredEventType] = {}
        for context, models in models_by_context.items():
            for model in models:
                key = (model.event_type, model.schema_version)
                if key in self._types:
                    raise ValueError(f"event type {key} registered twice")
                self._types[key] = RegisteredEventType(model=model, context=context)

    def lookup(self, event_type: str, schema_version: int) -> RegisteredEventType:
        registered = self._types.get((event_type, schema_version))
        if registered is None:
            raise UnknownEventTypeError(event_type, schema_version)
        return registered

    def contexts(self) -> set[str]:
        return {registered.context for registered in self._types.values()}

    def parse_payload(self, event_type: str, schema_version: int, payload: Payload) -> EventPayload:
        """Validate a payload against its model; errors name the failing field."""
        model = self.lookup(event_type, schema_version).model
        try:
            return model.model_validate(payload)
        except ValidationError as error:
            raise EventValidationError(event_type, problems_of(error, "payload")) from error

    def validate_new(self, event: NewEvent) -> EventPayload:
        return self.parse_payload(event.event_type, event.schema_version, event.payload)

    def parse(self, envelope: EventEnvelope) -> EventPayload:
        return self.parse_payload(envelope.event_type, envelope.schema_version, envelope.payload)


def default_registry() -> EventRegistry:
    return EventRegistry(EVENT_MODELS_BY_CONTEXT)
