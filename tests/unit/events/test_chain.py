"""Proves the canonical encoding is stable and strict, and that the chain verifier finds the first
altered, deleted or re-ordered row, by position."""

import functools
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.chain import (
    GENESIS_HASH,
    PAYLOAD_DEPTH_MAX,
    ChainVerifier,
    canonical_document,
    canonical_payload,
    chain_hash,
    format_instant,
    stored_document,
)
from events.errors import CanonicalEncodingError


def row(
    position: int, stream: str = "payment-a", version: int | None = None, **overrides: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "position": position,
        "event_id": uuid.UUID(int=position),
        "stream_id": stream,
        "stream_version": position if version is None else version,
        "event_type": "PaymentRequested",
        "schema_version": 1,
        "occurred_at": datetime(2026, 11, 24, 3, 0, tzinfo=UTC) + timedelta(seconds=position),
        "recorded_at": datetime(2026, 11, 24, 3, 0, 1, tzinfo=UTC) + timedelta(seconds=position),
        "correlation_id": uuid.UUID(int=10_000 + position),
        "causation_id": None,
        "actor": "citizen:1",
        "payload": {
            "amount": {"amount_minor": 1000 * position, "currency": "VND"},
            "note": "Phí hộ tịch",
        },
    }
    fields.update(overrides)
    return fields


def chained(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the store keeps them: hashed, and the payload's canonical text beside it."""
    previous = GENESIS_HASH
    for item in rows:
        previous = chain_hash(previous, canonical_document(item))
        item["entry_hash"] = previous
        item["payload_json"] = canonical_payload(item["payload"])
    return rows


def test_canonical_document_is_sorted_compact_utf8_with_utc_instants() -> None:
    document = canonical_document(row(1))
    text = document.decode("utf-8")
    parsed = json.loads(text)
    assert list(parsed) == sorted(parsed)
    assert ", " not in text and ": " not in text
    assert "Phí hộ tịch" in text  # not \\u-escaped
    assert parsed["occurred_at"] == "2026-11-24T03:00:01.000000Z"


def test_same_instant_in_another_zone_encodes_identically() -> None:
    hanoi = timezone(timedelta(hours=7))
    shifted = row(1, occurred_at=row(1)["occurred_at"].astimezone(hanoi))
    assert canonical_document(shifted) == canonical_document(row(1))


def test_floats_are_refused_with_their_path() -> None:
    with pytest.raises(CanonicalEncodingError, match=r"payload\.amount\.amount_minor"):
        canonical_document(row(1, payload={"amount": {"amount_minor": 10.5}}))


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"lines": [1, 2, [3, 4.0]]}, r"payload\.lines\[2\]\[1\]: float"),
        ({"by_unit": {7: "x"}}, r"payload\.by_unit: object key 7"),
        ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, r"payload\.when: datetime"),
        ({"set": {1, 2}}, r"payload\.set: set"),
        (
            functools.reduce(lambda inner, _: {"a": inner}, range(PAYLOAD_DEPTH_MAX + 1), {}),
            "nested deeper than",
        ),
    ],
)
def test_anything_but_plain_json_is_refused_naming_where(payload: Any, named: str) -> None:
    with pytest.raises(CanonicalEncodingError, match=named):
        canonical_payload(payload)


def test_payloads_nested_to_the_limit_encode() -> None:
    payload = functools.reduce(lambda inner, _: {"a": [inner]}, range(PAYLOAD_DEPTH_MAX // 2), {})
    assert orjson.loads(canonical_payload(payload)) == payload


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(CanonicalEncodingError, match="naive"):
        canonical_document(row(1, occurred_at=datetime(2026, 1, 1)))


def test_chain_hash_is_sha256_of_previous_hash_and_document() -> None:
    document = canonical_document(row(1))
    assert chain_hash(GENESIS_HASH, document) == hashlib.sha256(bytes(32) + document).digest()


def verify(rows: list[dict[str, Any]], head: tuple[int, bytes] | None = None) -> ChainVerifier:
    verifier = ChainVerifier()
    for item in rows:
        if verifier.check(item) is not None:
            break
    if head is not None:
        verifier.check_head(*head)
    return verifier


def test_intact_chain_verifies() -> None:
    rows = chained([row(position) for position in range(1, 6)])
    verifier = verify(rows, head=(5, rows[-1]["entry_hash"]))
    assert verifier.finding is None
    assert verifier.checked_count == 5


def test_altered_payload_is_reported_at_its_position() -> None:
    rows = chained([row(position) for position in range(1, 6)])
    rows[2]["payload_json"] = b'{"amount":{"amount_minor":1,"currency":"VND"},"note":"x"}'
    finding = verify(rows).finding
    assert finding is not None
    assert (finding.position, finding.problem) == (3, "altered")


def test_altered_row_with_recomputed_hash_is_caught_at_the_next_row() -> None:
    rows = chained([row(position) for position in range(1, 6)])
    rows[1]["actor"] = "clerk:intruder"
    rows[1]["entry_hash"] = chain_hash(rows[0]["entry_hash"], canonical_document(rows[1]))
    finding = verify(rows).finding
    assert finding is not None
    assert (finding.position, finding.problem) == (3, "altered")


def test_a_stored_document_is_the_canonical_document_with_the_stored_payload_bytes() -> None:
    stored = chained([row(1)])[0]
    assert stored_document(stored) == canonical_document(stored)
    # The same value in other bytes: the chain covers what is stored, not what it means.
    respaced = {**stored, "payload_json": stored["payload_json"].replace(b":", b": ")}
    assert orjson.loads(respaced["payload_json"]) == stored["payload"]
    assert stored_document(respaced) != canonical_document(stored)
    finding = verify([respaced]).finding
    assert finding is not None
    assert (finding.position, finding.problem) == (1, "altered")


def test_deleted_row_is_reported_as_missing_position() -> None:
    rows = chained([row(position) for position in range(1, 6)])
    del rows[3]
    finding = verify(rows).finding
    assert finding is not None
    assert (finding.position, finding.problem) == (4, "missing")


def test_deleted_tail_is_caught_by_the_head() -> None:
    rows = chained([row(position) for position in range(1, 6)])
    finding = verify(rows[:3], head=(5, rows[-1]["entry_hash"])).finding
    assert finding is not None
    assert (finding.position, finding.problem) == (4, "head_mismatch")


def test_swapped_rows_are_caught() -> None:
    rows = chained([row(position) for position in range(1, 6)])
    rows[1]["position"], rows[2]["position"] = 3, 2
    rows[1], rows[2] = rows[2], rows[1]
    finding = verify(rows).finding
    assert finding is not None
    assert finding.position == 2


def test_stream_version_gap_is_caught() -> None:
    rows = chained([row(1, version=1), row(2, version=3)])
    finding = verify(rows).finding
    assert finding is not None
    assert (finding.position, finding.problem) == (2, "stream_version_gap")


@given(
    length=st.integers(min_value=1, max_value=30),
    data=st.data(),
)
def test_any_single_byte_change_in_any_row_is_found_at_or_before_it(
    length: int, data: st.DataObject
) -> None:
    rows = chained([row(position) for position in range(1, length + 1)])
    target = data.draw(st.integers(min_value=0, max_value=length - 1))
    rows[target]["actor"] = rows[target]["actor"] + data.draw(st.sampled_from(["x", "0", "."]))
    finding = verify(rows, head=(length, rows[-1]["entry_hash"])).finding
    assert finding is not None
    assert finding.position == target + 1


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_canonical_bytes_equal_the_standard_library_definition(payload: Any) -> None:
    """The documented definition (for third-party verifiers) is Python's json module."""
    document = canonical_document(row(1, payload={"value": payload}))
    reference = dict(json.loads(document))
    expected = json.dumps(reference, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert document == expected.encode("utf-8")


@given(st.datetimes(timezones=st.just(UTC)))
def test_an_instant_is_written_with_six_fraction_digits_and_z(instant: datetime) -> None:
    """The documented form, `datetime.isoformat` with microseconds and "Z", for every instant:
    the fast path (orjson) and the zero-fraction path alike."""
    expected = instant.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert format_instant(instant) == expected
    assert format_instant(instant.replace(microsecond=0)) == expected[:-8] + ".000000Z"
