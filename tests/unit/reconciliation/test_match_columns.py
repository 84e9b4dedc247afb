"""Proves `SettlementsMatched` v2, a run's matches as columns: the columns of a real run's match
records validate and read back as exactly the `Match` rows v1 would carry; a column of another
length, a row that breaks a match rule and an empty event are refused with the field or the row
named; a recorded v2 event decodes through the registry as v2 while v1 still decodes as v1; and
the ledger posts the same entry from either version."""

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from events.registry import default_registry
from ledger.domain.posting import entry_for
from reconciliation.domain.matching import MatchRecord, match_columns
from schemas.envelope import EventEnvelope, EventPayload
from schemas.events.reconciliation_v1 import Match, SettlementsMatched
from schemas.events.reconciliation_v2 import SettlementsMatchedV2
from tests.unit.reconciliation.recon_factories import ACCOUNT, item, line
from tests.unit.reconciliation.test_matching import run

DAY = date(2026, 11, 25)
AT = datetime(2026, 11, 26, 3, tzinfo=UTC)


def a_run_s_records() -> list[MatchRecord]:
    """A 1:1 match, and a split: two credits that together pay one item."""
    outcome = run(
        [line(150_000, end_to_end_id="ORD-1"), line(100_000, note="ORD-2"),
         line(200_000, note="ORD-2")],
        [item(150_000, references=("ORD-1",)), item(300_000, references=("ORD-2",))],
    )  # fmt: skip
    assert len(outcome.matches) == 2
    return outcome.matches


def v2(columns: dict[str, list[object]]) -> SettlementsMatchedV2:
    return SettlementsMatchedV2.model_validate(
        {"bank_account": ACCOUNT, "business_date": DAY, "run_id": uuid.uuid4(), "matches": columns}
    )


def test_a_run_s_columns_read_back_as_the_match_rows_v1_carries() -> None:
    records = a_run_s_records()
    event = v2(match_columns(records))
    assert event.match_rows() == [Match.model_validate(asdict(r)) for r in records]
    assert len(event.matches) == 2


def test_a_column_of_another_length_is_refused_by_name() -> None:
    columns = match_columns(a_run_s_records())
    columns["fee_minor"] = columns["fee_minor"][:1]
    with pytest.raises(ValidationError, match="fee_minor holds 1 values, stage 2"):
        v2(columns)


def test_a_row_breaking_a_match_rule_is_refused_by_its_index() -> None:
    columns = match_columns(a_run_s_records())
    columns["net_minor"] = [columns["net_minor"][0], columns["net_minor"][1] - 1]
    with pytest.raises(ValidationError, match="match 1: gross_minor must equal"):
        v2(columns)
    columns = match_columns(a_run_s_records())
    columns["item_ids"] = [columns["item_ids"][0], []]
    with pytest.raises(ValidationError, match="match 1: a write-off settles no items"):
        v2(columns)


def test_each_value_is_checked_as_match_checks_it() -> None:
    columns = match_columns(a_run_s_records())
    columns["clearing"] = ["gateway:VNPAY", "nowhere"]
    with pytest.raises(ValidationError, match=r"matches\.clearing\.1"):
        v2(columns)


def test_an_event_without_matches_is_refused() -> None:
    with pytest.raises(ValidationError, match="1 to 1000 matches, got 0"):
        v2(match_columns([]))


def recorded(event: EventPayload) -> EventEnvelope:
    return EventEnvelope(
        position=9, event_id=uuid.uuid4(), stream_id=f"reconday-{ACCOUNT}-20261125",
        stream_version=3, event_type=event.event_type, schema_version=event.schema_version,
        occurred_at=AT, recorded_at=AT, correlation_id=uuid.uuid4(), actor="finance:lan",
        payload=event.to_payload(),
    )  # fmt: skip


def test_both_versions_decode_as_their_own_model_and_post_the_same_entry() -> None:
    records = a_run_s_records()
    columns = v2(match_columns(records))
    rows = SettlementsMatched(
        bank_account=ACCOUNT, business_date=DAY, run_id=columns.run_id,
        matches=[Match.model_validate(asdict(r)) for r in records],
    )  # fmt: skip
    adapter = default_registry().recorded_events
    decoded = [adapter.validate_json(recorded(e).model_dump_json()) for e in (rows, columns)]
    payloads = [d.payload for d in decoded]  # type: ignore[attr-defined]
    assert [type(p) for p in payloads] == [SettlementsMatched, SettlementsMatchedV2]
    assert payloads == [rows, columns]
    entries = [entry_for(recorded(e), e) for e in (rows, columns)]
    assert entries[0] is not None and entries[1] is not None
    assert entries[0].postings == entries[1].postings and len(entries[0].postings) == 2
