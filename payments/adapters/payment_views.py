"""The payments read model (view_payments): a catch-up projection and the queries over it.

On every payment event the projection re-folds that payment's stream (short: a handful of
events) and upserts the row, guarded by the stream version, so applying a batch twice or out of
order leaves the same row. The truth stays in the events; this table can be dropped and rebuilt.
"""

import base64
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from events.registry import EventRegistry
from events.sqlfiles import load_statements
from events.store.postgres import PostgresEventStore
from payments.domain.payment import fold
from schemas.envelope import EventEnvelope

SQL = load_statements("payments.adapters.sql", "payments.sql")
PAGE_SIZE_MAX = 200
OVERDUE_BATCH_MAX = 500


class PaymentsViewProjection:
    name = "view_payments"

    def __init__(self, store: PostgresEventStore, registry: EventRegistry) -> None:
        self._store = store
        self._registry = registry

    def wants(self, event_type: str) -> bool:
        return True  # filtered by stream below: every event of a payment stream counts

    async def apply(self, connection: asyncpg.Connection, events: list[EventEnvelope]) -> None:
        """The batch's payment streams are read in one query and their rows upserted in one
        pipelined round trip (per payment, that was two round trips and a second connection)."""
        stream_ids = sorted({e.stream_id for e in events if e.stream_id.startswith("payment-")})
        if not stream_ids:
            return
        up_to = max(envelope.position for envelope in events)
        streams = await self._store.read_streams(
            stream_ids, to_position=up_to, connection=connection
        )
        rows = []
        for envelopes in streams.values():
            state = fold([self._registry.parse(envelope) for envelope in envelopes])
            if state is None:
                continue
            rows.append((
                state.payment_id, state.dossier_id, state.citizen_id, state.unit_code,
                state.agency_code, state.procedure_code, state.status.value,
                state.scheduled_minor, state.due_minor, state.captured_minor,
                state.refunded_minor, None if state.method is None else state.method.value,
                state.expires_at, envelopes[0].occurred_at, state.receipt_number,
                state.attempts, len(envelopes), envelopes[-1].position,
                sum(held.amount_minor for held in state.flagged_money.values()),
            ))  # fmt: skip
        if rows:
            await connection.executemany(SQL["upsert_payment_view"], rows)


@dataclass(frozen=True)
class PaymentFilter:
    status: str | None = None
    unit_code: str | None = None
    procedure_code: str | None = None
    citizen_id: str | None = None
    requested_from: datetime | None = None
    requested_before: datetime | None = None
    holds_flagged_money: bool | None = None  # suspense holds money of its flagged callbacks


def encode_cursor(requested_at: datetime, payment_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{requested_at.isoformat()}|{payment_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Raise ValueError (the API answers 422 naming `cursor`) for anything we did not issue."""
    text = base64.urlsafe_b64decode(cursor.encode()).decode()
    instant, payment_id = text.split("|")
    parsed = datetime.fromisoformat(instant)
    if parsed.tzinfo is None:
        raise ValueError("cursor time is not aware")
    return parsed, UUID(payment_id)


class PaymentQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def page(
        self, where: PaymentFilter, cursor: str | None, limit: int
    ) -> tuple[list[UUID], str | None]:
        after_at, after_id = decode_cursor(cursor) if cursor else (None, None)
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                SQL["list_payments"],
                where.status, where.unit_code, where.procedure_code, where.citizen_id,
                where.requested_from, where.requested_before, after_at, after_id, limit + 1,
                where.holds_flagged_money,
            )  # fmt: skip
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (
            encode_cursor(rows[-1]["requested_at"], rows[-1]["payment_id"]) if more else None
        )
        return [row["payment_id"] for row in rows], next_cursor

    async def overdue_payment_ids(
        self, now: datetime, limit: int = OVERDUE_BATCH_MAX
    ) -> list[UUID]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SQL["overdue_payment_ids"], now, limit)
        return [row["payment_id"] for row in rows]

    async def payment_by_receipt(self, receipt_number: str) -> UUID | None:
        async with self._pool.acquire() as connection:
            value = await connection.fetchval(SQL["payment_by_receipt"], receipt_number)
        return value if isinstance(value, UUID) else None
