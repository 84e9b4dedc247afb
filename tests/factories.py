"""Test data factories: functions with overrides, no shared mutable state."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.envelope import NewEvent
from schemas.events.payments_v1 import AdministrativeLevel, Channel, PaymentRequested
from schemas.money import PositiveMoney

BASE_AT = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)


def payment_requested(**overrides: Any) -> PaymentRequested:
    fields: dict[str, Any] = {
        "payment_id": uuid.uuid4(),
        "dossier_id": uuid.uuid4(),
        "citizen_id": "079123456789",
        "procedure_code": "1.001193.000.00.00.H56",
        "agency_code": "SO-TU-PHAP",
        "unit_code": "VP",
        "administrative_level": AdministrativeLevel.PROVINCE,
        "channel": Channel.ONLINE,
        "amount": PositiveMoney(amount_minor=50_000),
        "schedule_version": "2026.1+000000000000",
        "expires_at": BASE_AT + timedelta(minutes=30),
    }
    fields.update(overrides)
    return PaymentRequested(**fields)


def new_event(index: int = 0, **overrides: Any) -> NewEvent:
    """A valid PaymentRequested event; override any envelope field, or `payload`."""
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_type": PaymentRequested.event_type,
        "schema_version": PaymentRequested.schema_version,
        "occurred_at": BASE_AT + timedelta(seconds=index),
        "correlation_id": uuid.uuid4(),
        "causation_id": None,
        "actor": "citizen:079123456789",
        "payload": payment_requested().to_payload(),
    }
    fields.update(overrides)
    return NewEvent(**fields)


def new_events(count: int) -> list[NewEvent]:
    return [new_event(index) for index in range(count)]


def stream_id(category: str = "payment") -> str:
    return f"{category}-{uuid.uuid4()}"
