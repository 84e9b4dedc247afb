"""Proves the contracts reject what they must (naive times, floats for money, unknown types,
bad fields named by path) and that the checked-in JSON Schema files match the models."""

import uuid
from datetime import datetime

import pytest
from pydantic import ValidationError

from entrypoints.settings import REPOSITORY_ROOT
from events.errors import EventValidationError, UnknownEventTypeError
from events.registry import default_registry
from schemas.envelope import EventEnvelope
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
        default_registry().validate_new(new_event(event_type="PaymentTeleported"))


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(UnknownEventTypeError, match="schema version 9"):
        default_registry().validate_new(new_event(schema_version=9))


def test_invalid_payload_error_names_the_field_path() -> None:
    event = new_event()
    broken = {**event.payload, "amount": {"amount_minor": 12.5, "currency": "VND"}}
    with pytest.raises(EventValidationError) as raised:
        default_registry().validate_new(new_event(payload=broken))
    assert raised.value.problems[0][0] == "payload.amount.amount_minor"
    assert "payload.amount.amount_minor" in str(raised.value)


def test_unknown_payload_field_is_refused() -> None:
    event = new_event()
    with pytest.raises(EventValidationError, match=r"payload\.discount"):
        default_registry().validate_new(new_event(payload={**event.payload, "discount": 1}))


def test_valid_payload_parses_to_its_model() -> None:
    payment_id = uuid.uuid4()
    event = new_event()
    payload = {**event.payload, "payment_id": str(payment_id)}
    parsed = default_registry().validate_new(new_event(payload=payload))
    assert parsed.payment_id == payment_id


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
