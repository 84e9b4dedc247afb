"""Decide what an append writes, given what the store holds. Pure, so every rule is unit-tested.

The adapter locks the chain head, reads the current stream versions and any already-stored event
ids, and hands them here. The plan is either "these rows, this new head" or an error, and nothing
is written unless the whole batch is acceptable.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson

from events.chain import (
    DOCUMENT_FIELDS,
    canonical_model_dump,
    canonical_payload,
    chain_hash,
    content_prefix,
    document_suffix,
    recorded_at_fragment,
    splice_document,
)
from events.errors import ConcurrencyError, EventIdConflictError, EventStoreError
from events.store.ports import APPEND_EVENTS_MAX, AppendRequest, AppendResult, ChainHead
from schemas.envelope import STREAM_ID_PATTERN

_STREAM_ID = re.compile(STREAM_ID_PATTERN)
# Fields that must agree for a re-append to count as the same event.
_IDENTITY_FIELDS = (
    "event_type",
    "schema_version",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "actor",
    "payload",
)


class InvalidAppendError(EventStoreError, ValueError):
    code = "invalid_append"


# Column order of the events table as the adapter COPYs it; rows in a plan are lists in this order.
ROW_COLUMNS = (*DOCUMENT_FIELDS, "entry_hash")
_POSITION, _RECORDED_AT, _ENTRY_HASH = (
    ROW_COLUMNS.index(name) for name in ("position", "recorded_at", "entry_hash")
)


class PreparedEvent(NamedTuple):
    """An event made ready before the lock: its row with three blanks, and its document halves.

    The canonical document is `prefix + ',"position":N,"recorded_at":"T"' + suffix` (keys in sorted
    order); only N, T and the hash are left for the time the head is locked.
    """

    row: list[Any]
    prefix: bytes
    suffix: bytes


@dataclass(frozen=True)
class AppendPlan:
    results: list[AppendResult]
    rows: list[list[Any]]  # ROW_COLUMNS order, positions ascending
    head: ChainHead

    def row_mappings(self) -> list[dict[str, Any]]:
        """The rows as the store reads them back: the payload decoded, and its stored bytes as
        `payload_json` (what `events.chain.stored_document` hashes)."""
        mappings = []
        for row in self.rows:
            mapping = dict(zip(ROW_COLUMNS, row, strict=True))
            mapping["payload_json"] = mapping["payload"]
            mapping["payload"] = orjson.loads(mapping["payload_json"])
            mappings.append(mapping)
        return mappings


def check_requests(requests: Sequence[AppendRequest]) -> None:
    """Shape rules that need no database: bounded size, valid ids, nothing twice."""
    if not requests:
        raise InvalidAppendError("an append needs at least one stream")
    event_count = sum(len(request.events) for request in requests)
    if event_count > APPEND_EVENTS_MAX:
        raise InvalidAppendError(f"{event_count} events in one append, at most {APPEND_EVENTS_MAX}")
    stream_ids: set[str] = set()
    event_ids: set[UUID] = set()
    for index, request in enumerate(requests):
        where = f"requests[{index}]"
        if not _STREAM_ID.match(request.stream_id):
            raise InvalidAppendError(
                f"{where}.stream_id {request.stream_id!r} is not '<category>-<id>'"
            )
        if request.stream_id in stream_ids:
            raise InvalidAppendError(f"{where}: stream {request.stream_id} appears twice")
        if request.expected_version < 0:
            raise InvalidAppendError(f"{where}.expected_version must be >= 0")
        if not request.events:
            raise InvalidAppendError(f"{where}.events is empty")
        stream_ids.add(request.stream_id)
        for event in request.events:
            if event.event_id in event_ids:
                raise InvalidAppendError(f"{where}: event {event.event_id} appears twice")
            event_ids.add(event.event_id)


def _replayed_result(
    request: AppendRequest, stored: list[Mapping[str, Any] | None]
) -> AppendResult | None:
    """The original result if this request was already stored identically, else None."""
    if all(row is None for row in stored):
        return None
    for offset, (event, row) in enumerate(zip(request.events, stored, strict=True)):
        if row is None:
            raise EventIdConflictError(
                request.events[0].event_id, "only part of the same append already stored"
            )
        expected_version = request.expected_version + offset + 1
        if row["stream_id"] != request.stream_id or row["stream_version"] != expected_version:
            raise EventIdConflictError(
                event.event_id,
                f"stream {row['stream_id']} version {row['stream_version']}, not "
                f"{request.stream_id} version {expected_version}",
            )
        for field in _IDENTITY_FIELDS:
            if getattr(event, field) != row[field]:
                raise EventIdConflictError(event.event_id, f"a different {field}")
    return AppendResult(
        stream_id=request.stream_id,
        positions=tuple(int(row["position"]) for row in stored if row is not None),
        stream_version=request.expected_version + len(request.events),
        already_stored=True,
    )


def prepare_events(requests: Sequence[AppendRequest]) -> list[list[PreparedEvent]]:
    """Everything about each event that does not depend on the head: done outside the lock.

    The result runs parallel to `requests` and their events (lists, not a dict keyed by event
    id: hashing a UUID is a Python-level call, measurable at 200,000 events).
    """
    prepared: list[list[PreparedEvent]] = []
    for request in requests:
        ready: list[PreparedEvent] = []
        for offset, event in enumerate(request.events):
            stream_version = request.expected_version + offset + 1
            # Stored as is: encoded once. A payload dumped from its validated model is plain
            # JSON by construction (NewEvent.from_payload, from_dump), so its check is skipped.
            dumped = event.dumped_by() is not None
            encode = canonical_model_dump if dumped else canonical_payload
            payload_json = encode(event.payload)
            row = [
                None,
                event.event_id,
                request.stream_id,
                stream_version,
                event.event_type,
                event.schema_version,
                event.occurred_at,
                None,
                event.correlation_id,
                event.causation_id,
                event.actor,
                payload_json,
                None,
            ]
            suffix = document_suffix(event.schema_version, request.stream_id, stream_version)
            # vars(): the model's field dict as is; dict(model) would copy it (4 us per event).
            ready.append(PreparedEvent(row, content_prefix(vars(event), payload_json), suffix))
        prepared.append(ready)
    return prepared


def fresh_results(requests: Sequence[AppendRequest], first_position: int) -> list[AppendResult]:
    """The results of requests all written, in order, from `first_position` on."""
    results: list[AppendResult] = []
    position = first_position
    for request in requests:
        count = len(request.events)
        results.append(
            AppendResult(
                stream_id=request.stream_id,
                positions=tuple(range(position, position + count)),
                stream_version=request.expected_version + count,
                already_stored=False,
            )
        )
        position += count
    return results


def plan_append(
    requests: Sequence[AppendRequest],
    head: ChainHead,
    now: datetime,
    stream_versions: Mapping[str, int],
    stored_by_id: Mapping[UUID, Mapping[str, Any]],
    prepared: Sequence[Sequence[PreparedEvent]] | None = None,
) -> AppendPlan:
    """Rows to insert (with positions and chained hashes) and the results, or raise."""
    prepared = prepare_events(requests) if prepared is None else prepared
    # recorded_at never goes backwards along the chain, even if the database clock does.
    recorded_at = now if head.recorded_at is None else max(now, head.recorded_at)
    recorded_at_json = recorded_at_fragment(recorded_at)
    position, last_hash = head.position, head.entry_hash
    results: list[AppendResult] = []
    rows: list[list[Any]] = []
    for request, ready_events in zip(requests, prepared, strict=True):
        if stored_by_id:
            stored = [stored_by_id.get(event.event_id) for event in request.events]
            replayed = _replayed_result(request, stored)
            if replayed is not None:
                results.append(replayed)
                continue
        actual_version = stream_versions.get(request.stream_id, 0)
        if actual_version != request.expected_version:
            raise ConcurrencyError(request.stream_id, request.expected_version, actual_version)
        first_position = position + 1
        for ready in ready_events:
            position += 1
            document = splice_document(ready.prefix, position, recorded_at_json, ready.suffix)
            last_hash = chain_hash(last_hash, document)
            row = list(ready.row)
            row[_POSITION], row[_RECORDED_AT], row[_ENTRY_HASH] = position, recorded_at, last_hash
            rows.append(row)
        results.append(
            AppendResult(
                stream_id=request.stream_id,
                positions=tuple(range(first_position, position + 1)),
                stream_version=request.expected_version + len(request.events),
                already_stored=False,
            )
        )
    new_head = ChainHead(position, last_hash, recorded_at) if rows else head
    return AppendPlan(results=results, rows=rows, head=new_head)
