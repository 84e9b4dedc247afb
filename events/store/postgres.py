"""The PostgreSQL event store (asyncpg): the system of record.

Every append runs in one transaction that first locks the chain head row. That single lock gives
three guarantees at once: positions are allocated without gaps and become visible strictly in
order (so the outbox relay and catch-up readers can trust `position > checkpoint`), each event's
hash can chain to its predecessor's, and the optimistic-concurrency check against stream versions
cannot race. Writers batch to keep the lock cheap per event (see bench/append_relay.py).
"""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from events.errors import ConcurrencyError, DuplicateCommandError, InfrastructureError
from events.registry import EventRegistry
from events.sqlfiles import load_statements
from events.store.append_plan import (
    ROW_COLUMNS,
    AppendPlan,
    PreparedEvent,
    check_requests,
    fresh_results,
    plan_append,
    prepare_events,
)
from events.store.ports import (
    READ_PAGE_MAX,
    STREAM_LENGTH_MAX,
    AppendRequest,
    AppendResult,
    ChainHead,
    CommandReceipt,
)
from schemas.envelope import EventEnvelope, NewEvent

SQL = load_statements("events.store.sql", "event_store.sql")
RECEIPT_CONSTRAINT = "command_receipts_pkey"
SMALL_APPEND_ROWS_MAX = 64  # up to this many events: one statement (events_append); above: COPY
# The prepared row's columns events_append takes, in its parameters' order (the store assigns
# position, recorded_at and entry_hash).
_SMALL_APPEND_COLUMNS = tuple(
    ROW_COLUMNS.index(name)
    for name in (
        "event_id", "stream_id", "stream_version", "event_type", "schema_version", "occurred_at",
        "correlation_id", "causation_id", "actor", "payload",
    )
)  # fmt: skip
POSITION_MAX = 2**63 - 1


JSONB_BINARY_VERSION = b"\x01"


def _encode_json(value: Any) -> bytes:
    """Encoded text is passed as it is (the store writes payloads it has already encoded)."""
    return value if type(value) is bytes else orjson.dumps(value)


def _encode_jsonb(value: Any) -> bytes:
    return JSONB_BINARY_VERSION + orjson.dumps(value)


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def init_connection(connection: asyncpg.Connection) -> None:
    """jsonb <-> Python objects on every pooled connection, in binary form so that COPY works."""
    await connection.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "json", encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )


def envelope_from_row(row: asyncpg.Record) -> EventEnvelope:
    return EventEnvelope.model_validate(dict(row))


class _RetryWithLookup(Exception):
    """The fast path met a version or event id that did not fit: take the careful path."""


class PostgresEventStore:
    def __init__(self, pool: asyncpg.Pool, registry: EventRegistry) -> None:
        self._pool = pool
        self._registry = registry

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        results = await self.append_batch([AppendRequest(stream_id, expected_version, events)])
        return results[0]

    async def append_batch(
        self, requests: Sequence[AppendRequest], *, receipt: CommandReceipt | None = None
    ) -> list[AppendResult]:
        """Append to several streams atomically: all requests are written, or none is.

        The common case (new event ids, current versions) skips the lookup of stored ids: the
        unique index on event_id is the check. When it fires, or a version does not match, the
        append runs again with the lookup, to answer an identical replay with the original
        positions, or to raise the conflict for real.
        """
        check_requests(requests)
        for request in requests:
            for event in request.events:
                self._registry.check_new(event)
        prepared = prepare_events(requests)  # the costly encoding, done before the lock
        try:
            return await self._append_once(requests, prepared, receipt, look_up_stored=False)
        except _RetryWithLookup:
            # A version or an event id did not fit. It may be a retried append whose events are
            # stored already: only the careful path, under the lock, can tell a replay
            # (answered with the original positions) from a real conflict (raised).
            return await self._append_once(requests, prepared, receipt, look_up_stored=True)

    async def _append_once(
        self,
        requests: Sequence[AppendRequest],
        prepared: list[list[PreparedEvent]],
        receipt: CommandReceipt | None,
        *,
        look_up_stored: bool,
    ) -> list[AppendResult]:
        try:
            async with self._pool.acquire() as connection:
                small = sum(len(ready) for ready in prepared) <= SMALL_APPEND_ROWS_MAX
                if small and not look_up_stored:
                    first = await self._append_small(connection, prepared, receipt)
                    if first is None:  # a stream was not at its expected version
                        raise _RetryWithLookup
                    return fresh_results(requests, first)
                # Large batches: versions read before the lock. They only grow, so a match here
                # can only turn stale by another append landing first, which the UNIQUE
                # (stream_id, stream_version) index then refuses. The careful path reads them
                # (and any stored ids) under the lock instead.
                versions = (
                    None if look_up_stored else await self._stream_versions(connection, requests)
                )
                async with connection.transaction():
                    plan = await self._plan(connection, requests, prepared, versions)
                    if plan.rows:
                        await self._write(connection, plan)
                    if receipt is not None:
                        await self._write_receipt(connection, receipt, plan.head.position)
                return plan.results
        except ConcurrencyError as error:
            if look_up_stored:
                raise
            raise _RetryWithLookup from error
        except asyncpg.UniqueViolationError as error:
            if receipt is not None and error.constraint_name == RECEIPT_CONSTRAINT:
                raise DuplicateCommandError(receipt.scope, receipt.key) from error
            if not look_up_stored:
                raise _RetryWithLookup from error
            # Unreachable: under the lock, versions and ids were read first. Kept as the last
            # line of defence, so that a lost race can only ever surface as a concurrency error.
            stream_id = requests[0].stream_id if len(requests) == 1 else "<batch>"
            raise ConcurrencyError(stream_id, requests[0].expected_version, -1) from error
        except asyncpg.PostgresError as error:
            raise InfrastructureError(f"append failed: {error}") from error

    @staticmethod
    async def _append_small(
        connection: asyncpg.Connection,
        prepared: list[list[PreparedEvent]],
        receipt: CommandReceipt | None,
    ) -> int | None:
        """A request-sized append in one statement, the head locked and the streams' versions
        checked only inside the server (migration 0007); returns the first position given, or
        None when a stream was not at the version its request expects (nothing written)."""
        events = [ready for request_events in prepared for ready in request_events]
        columns = [[ready.row[index] for ready in events] for index in _SMALL_APPEND_COLUMNS]
        receipt_fields = (
            (None, None, None, None, None)
            if receipt is None
            else (
                receipt.scope,
                receipt.key,
                receipt.request_hash,
                receipt.status_code,
                receipt.response,
            )
        )
        first: int | None = await connection.fetchval(
            SQL["append_small"],
            *columns,
            [ready.prefix for ready in events],
            [ready.suffix for ready in events],
            *receipt_fields,
        )
        return first

    @staticmethod
    async def _write(connection: asyncpg.Connection, plan: AppendPlan) -> None:
        """Large batches: COPY is the fastest way in (see the benchmark in README)."""
        await connection.copy_records_to_table("events", records=plan.rows, columns=ROW_COLUMNS)
        await connection.execute(
            SQL["advance_head"],
            plan.head.position,
            plan.head.entry_hash,
            plan.head.recorded_at,
            len(plan.rows),
        )

    @staticmethod
    async def _write_receipt(
        connection: asyncpg.Connection, receipt: CommandReceipt, last_position: int
    ) -> None:
        await connection.execute(
            SQL["insert_receipt"],
            receipt.scope,
            receipt.key,
            receipt.request_hash,
            receipt.status_code,
            receipt.response,
            last_position,
        )

    async def find_receipt(self, scope: str, key: str) -> CommandReceipt | None:
        rows = await self._fetch(SQL["find_receipt"], scope, key)
        if not rows:
            return None
        row = rows[0]
        return CommandReceipt(
            scope=row["scope"],
            key=row["key"],
            request_hash=bytes(row["request_hash"]),
            status_code=row["status_code"],
            response=row["response"],
            last_position=row["last_position"],
        )

    @staticmethod
    async def _stream_versions(
        connection: asyncpg.Connection, requests: Sequence[AppendRequest]
    ) -> dict[str, int]:
        rows = await connection.fetch(
            SQL["stream_versions"], [request.stream_id for request in requests]
        )
        return {row["stream_id"]: row["version"] for row in rows if row["version"] is not None}

    async def _plan(
        self,
        connection: asyncpg.Connection,
        requests: Sequence[AppendRequest],
        prepared: list[list[PreparedEvent]],
        versions_before_lock: dict[str, int] | None,
    ) -> AppendPlan:
        """Lock the head, then plan. Without versions read before the lock, read them (and any
        stored event ids) under it: the careful path."""
        head_row = await connection.fetchrow(SQL["lock_head"])
        head = ChainHead(
            head_row["last_position"], bytes(head_row["last_hash"]), head_row["last_recorded_at"]
        )
        now = head_row["now"]
        stored_by_id: dict[UUID, dict[str, Any]] = {}
        versions = versions_before_lock
        if versions is None:
            versions = await self._stream_versions(connection, requests)
            event_ids = [event.event_id for request in requests for event in request.events]
            stored = await connection.fetch(SQL["events_by_id"], event_ids)
            stored_by_id = {row["event_id"]: dict(row) for row in stored}
        return plan_append(requests, head, now, versions, stored_by_id, prepared)

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None
    ) -> list[EventEnvelope]:
        """A stream's events in version order, optionally only those up to a global position."""
        limit_position = POSITION_MAX if to_position is None else to_position
        rows = await self._fetch(SQL["read_stream"], stream_id, limit_position, STREAM_LENGTH_MAX)
        return [envelope_from_row(row) for row in rows]

    async def read_streams(
        self,
        stream_ids: Sequence[str],
        *,
        to_position: int,
        connection: asyncpg.Connection | None = None,
    ) -> dict[str, list[EventEnvelope]]:
        """Several streams' events up to a global position, in one query: stream id -> its
        events in version order (streams with none are left out)."""
        rows = await self._fetch(
            SQL["read_streams"], list(stream_ids), to_position,
            len(stream_ids) * STREAM_LENGTH_MAX, connection=connection,
        )  # fmt: skip
        streams: dict[str, list[EventEnvelope]] = {}
        for row in rows:
            streams.setdefault(row["stream_id"], []).append(envelope_from_row(row))
        return streams

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version (0 if it has no events), without reading it."""
        rows = await self._fetch(SQL["stream_version"], stream_id)
        return int(rows[0]["version"])

    async def read_all(
        self, from_position: int, limit: int, *, to_position: int | None = None
    ) -> list[EventEnvelope]:
        """One page of the global log: events with from_position < position <= to_position."""
        rows = await self.read_all_rows(from_position, limit, to_position=to_position)
        return [envelope_from_row(row) for row in rows]

    async def read_all_rows(
        self, from_position: int, limit: int, *, to_position: int | None = None
    ) -> list[asyncpg.Record]:
        """The same page as raw rows (payloads decoded), before model validation."""
        upper = POSITION_MAX if to_position is None else to_position
        return await self._fetch(SQL["read_all"], from_position, upper, min(limit, READ_PAGE_MAX))

    async def read_all_rows_of_types(
        self, from_position: int, limit: int, event_types: Sequence[str], *, to_position: int
    ) -> list[asyncpg.Record]:
        """A page of raw rows of `event_types` only, in position order (a page shorter than
        `limit` is the last one up to `to_position`)."""
        return await self._fetch(
            SQL["read_all_of_types"], from_position, to_position, min(limit, READ_PAGE_MAX),
            list(event_types),
        )  # fmt: skip

    async def iter_all(
        self, from_position: int = 0, *, to_position: int | None = None, page_size: int = 1000
    ) -> AsyncIterator[EventEnvelope]:
        """Stream the global log page by page (keyset on position, constant memory)."""
        position = from_position
        while True:
            page = await self.read_all(position, page_size, to_position=to_position)
            for envelope in page:
                yield envelope
            if len(page) < min(page_size, READ_PAGE_MAX):
                return
            position = page[-1].position

    async def read_stored_page(
        self,
        after_position: int,
        to_position: int,
        limit: int,
        *,
        connection: asyncpg.Connection | None = None,
    ) -> list[asyncpg.Record]:
        """Rows as stored, with their hashes and the payload's stored bytes (`payload_json`), for
        the relay and chain verification (`events.chain.stored_document`); on `connection` when
        given (the relay's own), else on a pooled one."""
        return await self._fetch(
            SQL["read_stored"], after_position, to_position, min(limit, READ_PAGE_MAX),
            connection=connection,
        )  # fmt: skip

    async def position_at(self, instant: datetime) -> int:
        """The last global position recorded at or before `instant` (0 if none)."""
        if instant.tzinfo is None:
            raise ValueError("position_at needs an aware datetime")
        rows = await self._fetch(SQL["position_at"], instant)
        return int(rows[0]["position"])

    async def stream_as_of(
        self, stream_id: str, *, position: int | None = None, instant: datetime | None = None
    ) -> list[EventEnvelope]:
        """A stream as it stood at a global position or at a moment in time."""
        if (position is None) == (instant is None):
            raise ValueError("give exactly one of position or instant")
        if instant is not None:
            position = await self.position_at(instant)
        return await self.read_stream(stream_id, to_position=position)

    async def head(self) -> ChainHead:
        rows = await self._fetch(SQL["head"])
        row = rows[0]
        return ChainHead(row["last_position"], bytes(row["last_hash"]), row["last_recorded_at"])

    async def rows_past_head(self) -> int:
        rows = await self._fetch(SQL["rows_past_head"])
        return int(rows[0]["count"])

    async def _fetch(
        self, statement: str, *arguments: Any, connection: asyncpg.Connection | None = None
    ) -> list[asyncpg.Record]:
        try:
            if connection is not None:
                return list(await connection.fetch(statement, *arguments))
            async with self._pool.acquire() as pooled:
                return list(await pooled.fetch(statement, *arguments))
        except asyncpg.PostgresError as error:
            raise InfrastructureError(f"event store read failed: {error}") from error
