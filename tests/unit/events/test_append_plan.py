"""Proves the append rules without a database: optimistic concurrency, idempotent replay by
event id, refusal of reused ids, gap-free positions and a hash chain that links every new row."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.chain import GENESIS_HASH, ChainVerifier
from events.errors import ConcurrencyError, EventIdConflictError
from events.store.append_plan import AppendPlan, InvalidAppendError, check_requests, plan_append
from events.store.ports import APPEND_EVENTS_MAX, NO_STREAM, AppendRequest, ChainHead
from tests.factories import new_event, new_events, stream_id

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
EMPTY = ChainHead(0, GENESIS_HASH, None)


def stored_rows(plan: AppendPlan) -> dict[uuid.UUID, dict[str, Any]]:
    return {row["event_id"]: row for row in plan.row_mappings()}


def test_new_stream_gets_versions_from_one_and_positions_after_the_head() -> None:
    stream = stream_id()
    head = ChainHead(41, b"\x01" * 32, NOW - timedelta(seconds=1))
    plan = plan_append([AppendRequest(stream, NO_STREAM, new_events(3))], head, NOW, {}, {})
    rows = plan.row_mappings()
    assert [row["position"] for row in rows] == [42, 43, 44]
    assert [row["stream_version"] for row in rows] == [1, 2, 3]
    assert plan.results[0].positions == (42, 43, 44)
    assert plan.results[0].stream_version == 3
    assert plan.head.position == 44
    assert plan.head.entry_hash == rows[-1]["entry_hash"]


def test_batch_across_streams_chains_every_row() -> None:
    requests = [AppendRequest(stream_id(), NO_STREAM, new_events(2)) for _ in range(3)]
    plan = plan_append(requests, EMPTY, NOW, {}, {})
    verifier = ChainVerifier()
    assert all(verifier.check(row) is None for row in plan.row_mappings())
    verifier.check_head(plan.head.position, plan.head.entry_hash)
    assert verifier.finding is None


def test_stale_expected_version_is_a_concurrency_error() -> None:
    stream = stream_id()
    with pytest.raises(ConcurrencyError) as raised:
        plan_append([AppendRequest(stream, 1, new_events(1))], EMPTY, NOW, {stream: 2}, {})
    assert (raised.value.expected_version, raised.value.actual_version) == (1, 2)


def test_new_stream_expected_but_stream_exists() -> None:
    stream = stream_id()
    with pytest.raises(ConcurrencyError):
        plan_append([AppendRequest(stream, NO_STREAM, new_events(1))], EMPTY, NOW, {stream: 1}, {})


def test_identical_replay_returns_original_positions_and_writes_nothing() -> None:
    request = AppendRequest(stream_id(), NO_STREAM, new_events(2))
    first = plan_append([request], EMPTY, NOW, {}, {})
    # The stream moved on since; the replay is still recognised as the same append.
    again = plan_append([request], first.head, NOW, {request.stream_id: 5}, stored_rows(first))
    assert again.rows == []
    assert again.head == first.head
    assert again.results[0].already_stored
    assert again.results[0].positions == first.results[0].positions


def test_same_event_id_with_different_payload_is_refused() -> None:
    event = new_event()
    request = AppendRequest(stream_id(), NO_STREAM, [event])
    first = plan_append([request], EMPTY, NOW, {}, {})
    changed = event.model_copy(update={"payload": {**event.payload, "channel": "counter"}})
    with pytest.raises(EventIdConflictError, match="different payload"):
        plan_append(
            [AppendRequest(request.stream_id, NO_STREAM, [changed])],
            first.head,
            NOW,
            {request.stream_id: 1},
            stored_rows(first),
        )


def test_same_event_id_on_another_stream_is_refused() -> None:
    event = new_event()
    first = plan_append([AppendRequest(stream_id(), NO_STREAM, [event])], EMPTY, NOW, {}, {})
    with pytest.raises(EventIdConflictError, match="stream"):
        plan_append(
            [AppendRequest(stream_id(), NO_STREAM, [event])],
            first.head,
            NOW,
            {},
            stored_rows(first),
        )


def test_partly_stored_append_is_refused() -> None:
    events = new_events(2)
    stream = stream_id()
    first = plan_append([AppendRequest(stream, NO_STREAM, events[:1])], EMPTY, NOW, {}, {})
    with pytest.raises(EventIdConflictError, match="only part"):
        plan_append(
            [AppendRequest(stream, NO_STREAM, events)],
            first.head,
            NOW,
            {stream: 1},
            stored_rows(first),
        )


def test_recorded_at_never_goes_backwards() -> None:
    later = NOW + timedelta(minutes=5)
    plan = plan_append(
        [AppendRequest(stream_id(), NO_STREAM, new_events(1))],
        ChainHead(1, b"\x02" * 32, later),
        NOW,
        {},
        {},
    )
    assert plan.row_mappings()[0]["recorded_at"] == later


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "at least one stream"),
        ([AppendRequest("Payment 1", NO_STREAM, new_events(1))], "stream_id"),
        ([AppendRequest("payment-1", NO_STREAM, [])], r"requests\[0\]\.events is empty"),
        ([AppendRequest("payment-1", -1, new_events(1))], "expected_version"),
        (
            [
                AppendRequest("payment-1", 0, new_events(1)),
                AppendRequest("payment-1", 0, new_events(1)),
            ],
            "appears twice",
        ),
    ],
)
def test_malformed_requests_are_refused_with_where(
    requests: list[AppendRequest], message: str
) -> None:
    with pytest.raises(InvalidAppendError, match=message):
        check_requests(requests)


def test_duplicate_event_id_inside_one_append_is_refused() -> None:
    event = new_event()
    with pytest.raises(InvalidAppendError, match="appears twice"):
        check_requests([AppendRequest("payment-1", 0, [event, event])])


def test_append_size_is_bounded() -> None:
    event = new_event()
    too_many = [AppendRequest("payment-1", 0, [event] * (APPEND_EVENTS_MAX + 1))]
    with pytest.raises(InvalidAppendError, match="at most"):
        check_requests(too_many)
