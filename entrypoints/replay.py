"""Replaying the event store into fresh projections, and comparing them with the live ones.

`replay_store` creates a separate schema, migrates it, and applies every event up to a position
(or a time) to the same pure rules and the same writers the live projections use: the ledger's
posting rules, the metrics rules and the reconciliation read model. Nothing is read from Kafka or
from the live projections, so the result is what the events alone say. `compare` then lists every
difference against the live schema: (account, day, amounts) for the ledger, (day, unit, agency,
procedure, counter) for the metrics, and per-day summaries for reconciliation.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from entrypoints.bootstrap import all_migrations, build_reconciler, build_runtime, create_pool
from entrypoints.settings import Settings
from events.gc_pause import collector_paused
from events.registry import EventRegistry, default_registry
from events.store.migrations import apply_migrations
from events.store.postgres import PostgresEventStore
from events.streaming.decoding import DecodedEvent
from ledger.domain.posting import POSTED_EVENT_TYPES
from ledger.streams.agents import post_events
from metrics.domain.rules import COUNTED_EVENT_TYPES
from metrics.streams.agents import record_events
from reconciliation.adapters.projection import (
    ITEM_EVENT_TYPES,
    PROJECTION_NAME,
    RECONCILIATION_EVENT_TYPES,
    ReconciliationProjection,
)
from schemas.envelope import EventEnvelope

REPLAY_PAGE_SIZE = 5000
SAVE_CHECKPOINT = """
INSERT INTO projection_checkpoints (projection_name, last_position) VALUES ($1, $2)
ON CONFLICT (projection_name) DO UPDATE SET last_position = EXCLUDED.last_position"""
# Each projection's live tables, summed per key: the rows two projections must agree on.
COMPARISONS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "ledger": (
        "SELECT account_code, business_date, debit_minor, credit_minor FROM ledger_daily_balances",
        ("account_code", "business_date"), ("debit_minor", "credit_minor"),
    ),
    "metrics": (
        "SELECT * FROM metric_daily",
        ("business_date", "unit_code", "agency_code", "procedure_code"),
        ("filed_online", "filed_counter", "fee_bearing_filed", "checkout_attempts", "paid_online",
         "paid_counter", "paid_online_minor", "paid_counter_minor", "refunds", "refunds_minor"),
    ),
    "reconciliation matches": (
        "SELECT bank_account, business_date, stage, count(*) AS matches, "
        "sum(net_minor)::bigint AS net_minor, sum(fee_minor)::bigint AS fee_minor "
        "FROM recon_matches WHERE undone_position IS NULL GROUP BY 1, 2, 3",
        ("bank_account", "business_date", "stage"), ("matches", "net_minor", "fee_minor"),
    ),
    "reconciliation exceptions": (
        "SELECT bank_account, business_date, kind, count(*) AS exceptions, "
        "sum(amount_minor)::bigint AS amount_minor FROM recon_exceptions "
        "WHERE superseded_position IS NULL GROUP BY 1, 2, 3",
        ("bank_account", "business_date", "kind"), ("exceptions", "amount_minor"),
    ),
    "reconciliation days": (
        "SELECT bank_account, business_date, status, reopen_count FROM recon_days",
        ("bank_account", "business_date"), ("status", "reopen_count"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class ReplayResult:
    schema: str
    to_position: int
    event_count: int


@dataclass(frozen=True)
class Difference:
    projection: str
    key: tuple[object, ...]
    field: str
    live: object
    replayed: object


async def _create_schema(settings: Settings, schema: str) -> None:
    admin = await asyncpg.connect(settings.database_dsn.get_secret_value())
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')  # schema names are validated settings
    finally:
        await admin.close()


@asynccontextmanager
async def replay_pool(settings: Settings, schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a new, migrated schema (the caller drops it when done with it)."""
    target = settings.model_copy(update={"database_schema": schema})
    await _create_schema(settings, schema)
    pool = await create_pool(target)
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, all_migrations())
        yield pool
    finally:
        await pool.close()


async def apply_page(
    connection: asyncpg.Connection, registry: EventRegistry,
    projection: ReconciliationProjection, page: list[DecodedEvent],
) -> None:  # fmt: skip
    """One page into every projection, in one transaction (so a replay can be resumed)."""
    async with connection.transaction():
        await post_events(connection, page)
        await record_events(connection, page)
        wanted = [e.envelope for e in page if projection.wants(e.envelope.event_type)]
        if wanted:
            await projection.apply(connection, wanted)
        await connection.execute(SAVE_CHECKPOINT, PROJECTION_NAME, page[-1].envelope.position)


REPLAYED_EVENT_TYPES = sorted(
    POSTED_EVENT_TYPES | COUNTED_EVENT_TYPES | ITEM_EVENT_TYPES | RECONCILIATION_EVENT_TYPES
)


async def _decoded_page(
    store: PostgresEventStore, registry: EventRegistry, after: int, upper: int
) -> tuple[list[DecodedEvent], int]:
    """The next page's events that some projection reads, decoded, and the page's last
    position. Envelopes are rebuilt from the store's own rows without field validation (they
    were validated when appended, and `fees audit verify` proves them unchanged); every payload
    is still validated against its versioned model."""
    rows = await store.read_all_rows_of_types(
        after, REPLAY_PAGE_SIZE, REPLAYED_EVENT_TYPES, to_position=upper
    )
    page = []
    for row in rows:
        if row["payload"] is None:
            continue
        envelope = EventEnvelope.model_construct(**dict(row))
        page.append(DecodedEvent(envelope, registry.parse(envelope), 0, envelope.position))
    return page, (rows[-1]["position"] if rows else after)


async def replay_store(
    store: PostgresEventStore, target: asyncpg.Pool, to_position: int,
    advance: Callable[[int], None] = lambda _: None,
) -> int:  # fmt: skip
    """Apply the live store's events 1..to_position to the target schema; returns the last
    position replayed (events no projection reads are skipped without decoding them).
    The next page is read while the current one is written, so neither database round trip
    waits for the other."""
    registry = default_registry()
    projection = ReconciliationProjection(registry)
    position = 0
    with collector_paused():
        async with target.acquire() as connection:
            upcoming = asyncio.create_task(_decoded_page(store, registry, position, to_position))
            while True:
                page, reached = await upcoming
                more = position < reached < to_position  # an empty page ends it too
                if more:
                    upcoming = asyncio.create_task(
                        _decoded_page(store, registry, reached, to_position)
                    )
                if page:
                    await apply_page(connection, registry, projection, page)
                position = reached
                advance(position)
                if not more:
                    return position


Keyed = dict[tuple[object, ...], tuple[object, ...]]


async def _keyed(pool: asyncpg.Pool, sql: str, keys: tuple[str, ...],
                 fields: tuple[str, ...]) -> Keyed:  # fmt: skip
    rows = await pool.fetch(sql)
    return {tuple(row[k] for k in keys): tuple(row[f] for f in fields) for row in rows}


async def compare(live: asyncpg.Pool, replayed: asyncpg.Pool) -> list[Difference]:
    """Every value on which the live projections and the replayed ones disagree."""
    differences: list[Difference] = []
    for name, (sql, keys, fields) in COMPARISONS.items():
        ours, theirs = (
            await _keyed(live, sql, keys, fields),
            await _keyed(replayed, sql, keys, fields),
        )
        for key in sorted(ours.keys() | theirs.keys(), key=repr):
            left = ours.get(key, (None,) * len(fields))
            right = theirs.get(key, (None,) * len(fields))
            differences.extend(
                Difference(name, key, field, a, b)
                for field, a, b in zip(fields, left, right, strict=True)
                if a != b and not (a in (None, 0) and b in (None, 0))
            )
    return differences


async def drop_schema(settings: Settings, schema: str) -> None:
    admin = await asyncpg.connect(settings.database_dsn.get_secret_value())
    try:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await admin.close()


async def catch_up_live_reconciliation(settings: Settings, pool: asyncpg.Pool) -> None:
    """The reconciliation read model catches up on demand (API calls do it); do it before a
    comparison so that 'live' means every recorded event, as it does for the replay."""
    await build_reconciler(build_runtime(settings, pool)).read_model.catch_up()
