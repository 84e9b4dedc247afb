"""Errors of the event store and its edges. Each names what broke and where."""

from typing import Any
from uuid import UUID


class EventStoreError(Exception):
    """Base of every expected event-store failure."""

    code = "event_store_error"


class ConcurrencyError(EventStoreError):
    """The stream moved on since the writer read it: reload, decide again, retry."""

    code = "concurrency_conflict"

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"stream {stream_id!r} is at version {actual_version}, "
            f"the append expected version {expected_version}; nothing was written"
        )


class EventIdConflictError(EventStoreError):
    """An event id is already stored with different content: a writer reused an id by mistake."""

    code = "event_id_conflict"

    def __init__(self, event_id: UUID, reason: str) -> None:
        self.event_id = event_id
        super().__init__(f"event {event_id} is already stored with {reason}; nothing was written")


class UnknownEventTypeError(EventStoreError):
    code = "unknown_event_type"

    def __init__(self, event_type: str, schema_version: int) -> None:
        self.event_type = event_type
        self.schema_version = schema_version
        super().__init__(f"unknown event type {event_type!r} schema version {schema_version}")


class EventValidationError(EventStoreError):
    """A payload does not match its model; `problems` lists (field path, message) pairs."""

    code = "invalid_event"

    def __init__(self, event_type: str, problems: list[tuple[str, str]]) -> None:
        self.event_type = event_type
        self.problems = problems
        detail = "; ".join(f"{field}: {message}" for field, message in problems)
        super().__init__(f"invalid {event_type} payload: {detail}")


class CanonicalEncodingError(EventStoreError):
    """A value cannot be encoded canonically (floats are refused: money and counts are integers)."""

    code = "not_canonical"


class InfrastructureError(EventStoreError):
    """PostgreSQL or Kafka failed underneath us; the original driver error is chained."""

    code = "infrastructure"


class DuplicateCommandError(EventStoreError):
    """A command receipt with this scope and key exists: the request was already carried out."""

    code = "duplicate_command"

    def __init__(self, scope: str, key: str) -> None:
        self.scope = scope
        self.key = key
        super().__init__(f"request {key!r} of {scope!r} was already carried out")


class DomainError(Exception):
    """A business rule said no (every context's errors derive from this). `code` is stable
    (clients switch on it), `http_status` is what the API answers, `context` says what and where."""

    code = "rule_violated"
    http_status = 422

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context


class InvariantViolation(Exception):
    """A bug: something the code relies on did not hold. Never caught; let it crash loudly."""


def ensure(condition: bool, message: str) -> None:
    """An assertion that `python -O` cannot strip."""
    if not condition:
        raise InvariantViolation(message)
