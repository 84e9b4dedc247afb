"""What an event looks like on Kafka: key, value and headers, and how a consumer reads it back.

The value is the event's canonical document (the very bytes its chain hash covers), so every
consumer sees exactly what the store recorded. Headers let a consumer route or drop a message
without parsing the value.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from events.chain import stored_document
from events.errors import EventValidationError
from events.registry import problems_of
from schemas.envelope import EventEnvelope

CONTENT_TYPE = b"application/json"


@dataclass(frozen=True)
class KafkaMessage:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def message_for(row: Mapping[str, Any]) -> KafkaMessage:
    """Build the message for one stored row (`PostgresEventStore.read_stored_page`): its value is
    the document with the payload's stored bytes spliced in, neither decoded nor re-encoded."""
    return KafkaMessage(
        key=str(row["stream_id"]).encode("utf-8"),
        value=stored_document(row),
        headers=[
            ("event_type", str(row["event_type"]).encode("utf-8")),
            ("schema_version", str(row["schema_version"]).encode("ascii")),
            ("event_id", str(row["event_id"]).encode("ascii")),
            ("position", str(row["position"]).encode("ascii")),
            ("content_type", CONTENT_TYPE),
        ],
    )


def envelope_from_message(value: bytes | None) -> EventEnvelope:
    """Parse a message value; a bad one raises EventValidationError naming the field."""
    if value is None:
        raise EventValidationError("<unknown>", [("value", "message has no value")])
    try:
        return EventEnvelope.model_validate_json(value)
    except ValidationError as error:
        raise EventValidationError("<envelope>", problems_of(error, "envelope")) from error


def header(headers: Sequence[tuple[str, bytes]], name: str) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None
