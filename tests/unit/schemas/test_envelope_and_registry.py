"""Proves the contracts reject what they must (naive times, floats for money, unknown types,
bad fields named by path) and that the checked-in JSON Schema files match the models."""

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from entrypoints.settings import REPOSITORY_ROOT
from events.chain import canonical_model_dump, canonical_payload
from events.errors import EventValidationError, UnknownEventTypeError
from events.registry import default_registry
from schemas.envelope import EventEnvelope, EventPayload, NewEvent
from schemas.events import EVENT_MODELS_BY_CONTEXT
from schemas.events.payments_v1 import PaymentRequested
from schemas.jsonschema_files import JSONSCHEMA_DIRECTORY, render_all
from schemas.money import Money, PositiveMoney
from schemas.time import business_date
from tests.factories import new_event


def test_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        new_event(occurred_at=datetime(2026, 11, 24, 9, 0))


def test_instants_are_normalised_to_utc() -> None:
    event = new_event(occurred_at=datetime.fromisoformat("2026-11-24T09:00:00+07:00"))
    assert event.occurred_at.isoformat() == "2026-11-24T02:00:00+00:00"


def test_business_date_is_the_day_in_ho_chi_minh_city() -> None:
    # 23:30 UTC on the 24th is 06:30 on the 25th in Asia/Ho_Chi_Minh.
    assert str(business_date(datetime.fromisoformat("2026-11-24T23:30:00+00:00"))) == "2026-11-25"


@pytest.mark.parametrize("amount", [100.0, "100", -1, 0])
def test_payment_amount_must_be_a_positive_integer(amount: object) -> None:
    with pytest.raises(ValidationError, match="amount_minor"):
        PositiveMoney(amount_minor=amount)  # type: ignore[arg-type]


def test_zero_fee_is_a_valid_money_amount() -> None:
    assert Money(amount_minor=0).amount_minor == 0


@pytest.mark.parametrize("actor", ["root", "citizen:", "hacker:x", "citizen:a b"])
def test_actor_must_be_role_and_identity(actor: str) -> None:
    with pytest.raises(ValidationError, match="actor"):
        new_event(actor=actor)


def test_unknown_event_type_is_refused_by_name() -> None:
    with pytest.raises(UnknownEventTypeError, match="PaymentTeleported"):
        default_registry().check_new(new_event(event_type="PaymentTeleported"))


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(UnknownEventTypeError, match="schema version 9"):
        default_registry().check_new(new_event(schema_version=9))


def test_invalid_payload_error_names_the_field_path() -> None:
    event = new_event()
    broken = {**event.payload, "amount": {"amount_minor": 12.5, "currency": "VND"}}
    with pytest.raises(EventValidationError) as raised:
        default_registry().check_new(new_event(payload=broken))
    assert raised.value.problems[0][0] == "payload.amount.amount_minor"
    assert "payload.amount.amount_minor" in str(raised.value)


def test_unknown_payload_field_is_refused() -> None:
    event = new_event()
    with pytest.raises(EventValidationError, match=r"payload\.discount"):
        default_registry().check_new(new_event(payload={**event.payload, "discount": 1}))


def test_valid_payload_passes_and_parses_to_its_model() -> None:
    payment_id = uuid.uuid4()
    event = new_event()
    payload = {**event.payload, "payment_id": str(payment_id)}
    registry = default_registry()
    registry.check_new(new_event(payload=payload))
    parsed = registry.parse_payload(event.event_type, event.schema_version, payload)
    assert parsed.payment_id == payment_id  # type: ignore[attr-defined]


def _typed(event_type: str = "PaymentRequested") -> EventPayload:
    return default_registry().parse_payload(event_type, 1, new_event().payload)


def _from_model(
    event_type: str = "PaymentRequested", typed: EventPayload | None = None
) -> NewEvent:
    return NewEvent.from_payload(
        typed or _typed(event_type), event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
        correlation_id=uuid.uuid4(), actor="clerk:q1-07",
    )  # fmt: skip


def test_a_payload_dumped_from_its_model_is_not_validated_again() -> None:
    typed = _typed()
    event = _from_model(typed=typed)
    assert event.dumped_by() is PaymentRequested and event.payload == typed.to_payload()
    # Proof that no second validation runs: a dump changed in place (which callers must not do)
    # passes, where the same dict in an event built from plain JSON is refused.
    event.payload["amount"] = {"amount_minor": 12.5, "currency": "VND"}
    default_registry().check_new(event)
    with pytest.raises(EventValidationError, match=r"payload\.amount\.amount_minor"):
        default_registry().check_new(new_event(payload=event.payload))


def test_a_copy_with_another_payload_is_validated() -> None:
    event = _from_model()
    broken = {**event.payload, "amount": {"amount_minor": 12.5, "currency": "VND"}}
    copy = event.model_copy(update={"payload": broken})
    assert copy.dumped_by() is None
    with pytest.raises(EventValidationError, match=r"payload\.amount\.amount_minor"):
        default_registry().check_new(copy)


def test_a_model_under_another_event_type_is_refused() -> None:
    event = _from_model().model_copy(update={"event_type": "PaymentCaptured"})
    with pytest.raises(EventValidationError, match="PaymentRequested, where PaymentCaptured"):
        default_registry().check_new(event)


def _json_types(schema: object) -> set[str]:
    """Every JSON type a schema names anywhere in it."""
    found: set[str] = set()
    if isinstance(schema, dict):
        kind = schema.get("type")
        found.update([kind] if isinstance(kind, str) else kind if isinstance(kind, list) else [])
        for value in schema.values():
            found |= _json_types(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _json_types(value)
    return found


def test_no_event_model_has_a_float_field() -> None:
    """What lets the store encode a model's dump without checking it for floats
    (events.chain.canonical_model_dump)."""
    models = [model for group in EVENT_MODELS_BY_CONTEXT.values() for model in group]
    assert models
    for model in models:
        assert "number" not in _json_types(model.model_json_schema()), model.__name__


def test_a_dumped_model_encodes_as_the_checked_encoding_would() -> None:
    event = _from_model()
    assert canonical_model_dump(event.payload) == canonical_payload(event.payload)


def test_checked_in_json_schemas_match_the_models() -> None:
    root = REPOSITORY_ROOT / JSONSCHEMA_DIRECTORY
    rendered = render_all()
    on_disk = {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in root.rglob("*.json")
    }
    stale = sorted(name for name in rendered if on_disk.get(name) != rendered[name])
    extra = sorted(set(on_disk) - set(rendered))
    assert not stale and not extra, (
        f"JSON Schema files out of date (stale {stale}, extra {extra}); run `fees schemas write`"
    )


def test_an_envelope_rebuilt_from_a_store_row_equals_the_validated_one() -> None:
    event = new_event()
    row = {
        **event.model_dump(), "position": 7, "stream_id": "payment-abc", "stream_version": 2,
        "recorded_at": event.occurred_at,
    }  # fmt: skip
    validated = EventEnvelope.model_validate(row)
    rebuilt = EventEnvelope.from_store(dict(row))
    assert rebuilt == validated
    assert rebuilt.model_dump() == validated.model_dump()
    assert rebuilt.model_fields_set == validated.model_fields_set
    with pytest.raises(ValidationError):  # frozen, like every envelope
        rebuilt.position = 8  # type: ignore[misc]
