"""Replaying the event store into fresh projections, and comparing them with the live ones.

`replay_store` creates a separate schema, migrates it, and applies every event up to a position
(or a time) to the same pure rules and the same writers the live projections use: the ledger's
posting rules, the metrics rules and the reconciliation read model. Nothing is read from Kafka or
from the live projections, so the result is what the events alone say. `compare` then lists every
difference against the live schema: (account, day, amounts) for the ledger, (day, unit, agency,
procedure, counter) for the metrics, and per-day summaries for reconciliation.
"""

import asyncio
import ctypes
import multiprocessing
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from entrypoints.bootstrap import (
    build_reconciler,
    build_runtime,
    create_migrated_schema,
    create_pool,
    runtime,
)
from entrypoints.settings import Settings
from events.gc_pause import collector_paused
from events.registry import EventRegistry, default_registry
from events.store.postgres import PostgresEventStore
from events.streaming.decoding import DecodedEvent
from ledger.domain.posting import POSTED_EVENT_TYPES
from ledger.streams.agents import LEDGER_CONSUMER, post_events
from metrics.domain.rules import COUNTED_EVENT_TYPES
from metrics.streams.agents import METRICS_CONSUMER, record_events
from reconciliation.adapters.projection import (
    ITEM_EVENT_TYPES,
    PROJECTION_NAME,
    RECONCILIATION_EVENT_TYPES,
    ReconciliationProjection,
)
from schemas.envelope import EventEnvelope
from schemas.events.reconciliation_v1 import LINES_PER_EVENT_MAX

PROGRESS_INTERVAL_S = 0.2
PAGE_ROWS_MAX = 50_000  # rows a replayed page may write (bounds a lane's memory)
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
class Difference:
    projection: str
    key: tuple[object, ...]
    field: str
    live: object
    replayed: object


@asynccontextmanager
async def replay_pool(settings: Settings, schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a new, migrated schema (the caller drops it when done with it)."""
    target = settings.model_copy(update={"database_schema": schema})
    await create_migrated_schema(target)
    pool = await create_pool(target)
    try:
        yield pool
    finally:
        await pool.close()


Apply = Callable[[asyncpg.Connection, list[EventEnvelope]], Awaitable[None]]


@dataclass(frozen=True)
class ReplayLane:
    """Projections replayed together, in one process, from one read of the store: the event
    types they read, how many per page, the checkpoints they keep, and how a page is applied
    (inside the replay's transaction)."""

    checkpoints: tuple[str, ...]
    event_types: frozenset[str]
    page_size: int
    apply: Apply


def _ledger_and_reconciliation(registry: EventRegistry) -> Apply:
    """Both read the money events, so they share the read and the parsing. Statement lines
    are not parsed: the reconciliation projection copies their raw payloads."""
    reconciliation = ReconciliationProjection(registry)

    async def apply(connection: asyncpg.Connection, page: list[EventEnvelope]) -> None:
        parsed = [
            None if e.event_type == "SettlementLinesRecorded" else registry.parse(e) for e in page
        ]
        await post_events(connection, [
            DecodedEvent(e, payload, 0, e.position)
            for e, payload in zip(page, parsed, strict=True)
            if payload is not None and e.event_type in POSTED_EVENT_TYPES
        ])  # fmt: skip
        await reconciliation.apply_parsed(connection, [
            (e, payload) for e, payload in zip(page, parsed, strict=True)
            if reconciliation.wants(e.event_type)
        ])  # fmt: skip

    return apply


def _metrics(registry: EventRegistry) -> Apply:
    async def apply(connection: asyncpg.Connection, page: list[EventEnvelope]) -> None:
        await record_events(connection, [DecodedEvent(e, registry.parse(e), 0, e.position)
                                         for e in page])  # fmt: skip

    return apply


def replay_lanes(registry: EventRegistry) -> tuple[ReplayLane, ...]:
    """The live projections in two lanes of about equal work, each applied by the same rules
    and writers as live."""
    return (
        ReplayLane(
            (LEDGER_CONSUMER, PROJECTION_NAME),
            POSTED_EVENT_TYPES | ITEM_EVENT_TYPES | RECONCILIATION_EVENT_TYPES,
            2500, _ledger_and_reconciliation(registry),
        ),
        ReplayLane((METRICS_CONSUMER,), COUNTED_EVENT_TYPES, 5000, _metrics(registry)),
    )  # fmt: skip


def _rows_written(event_type: str) -> int:
    return LINES_PER_EVENT_MAX if event_type == "SettlementLinesRecorded" else 1


def within_rows_max(event_types: Sequence[str], rows_max: int = PAGE_ROWS_MAX) -> int:
    """How many of a page's events (at least one) fit in `rows_max` rows written: a statement
    chunk writes its 1,000 lines, so a page of chunks is cut short and memory stays bounded."""
    rows = 0
    for count, event_type in enumerate(event_types):
        rows += _rows_written(event_type)
        if rows > rows_max and count > 0:
            return count
    return len(event_types)


async def _page(
    store: PostgresEventStore, lane: ReplayLane, after: int, upper: int
) -> tuple[list[EventEnvelope], bool]:
    """The lane's next page, and whether it ends the lane. Envelopes are rebuilt from the
    store's own rows without field validation (they were validated when appended, and `fees
    audit verify` proves them unchanged); every payload is still validated against its
    versioned model when applied."""
    rows = await store.read_all_rows_of_types(
        after, lane.page_size, sorted(lane.event_types), to_position=upper
    )
    kept = within_rows_max([row["event_type"] for row in rows])
    last = len(rows) < lane.page_size and kept == len(rows)
    return [EventEnvelope.from_store(dict(row)) for row in rows[:kept]], last


async def _replay_lane(
    settings: Settings, schema: str, lane: ReplayLane, to_position: int,
    advance: Callable[[int], None],
) -> None:  # fmt: skip
    """Apply one lane's events 1..to_position to the target schema, one page per transaction
    with the lane's checkpoints. The next page is read while the current one is written, so
    neither database round trip waits for the other."""
    target_settings = settings.model_copy(update={"database_schema": schema})
    source_pool = await create_pool(settings)
    source = PostgresEventStore(source_pool, default_registry())
    async with (
        source_pool,
        runtime(target_settings) as target,
        target.pool.acquire() as connection,
    ):
        upcoming = asyncio.create_task(_page(source, lane, 0, to_position))
        while True:
            page, last = await upcoming
            if not last:
                upcoming = asyncio.create_task(_page(source, lane, page[-1].position, to_position))
            if page:
                async with connection.transaction():
                    await lane.apply(connection, page)
                    await connection.executemany(
                        SAVE_CHECKPOINT, [(name, page[-1].position) for name in lane.checkpoints]
                    )
            advance(to_position if last else page[-1].position)
            if last:
                return


SECONDARY_INDEXES = """
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND NOT i.indisunique
ORDER BY c.relname"""
FOREIGN_KEYS = """
SELECT conrelid::regclass::text AS table_name, conname AS name,
       pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE contype = 'f' AND connamespace = $1::regnamespace
ORDER BY conname"""
INDEX_BUILDERS = 2


@asynccontextmanager
async def checks_deferred_for_bulk_load(settings: Settings, schema: str) -> AsyncIterator[None]:
    """Drop what the target schema would maintain row by row during the load (its non-unique
    indexes and its foreign keys) and restore it after the load, in one pass each: an index
    built from sorted data, a foreign key validated by one join. Maintaining them per row cost
    the 1M replay about a tenth of its time for the indexes, and about 30% of the ledger's
    batch insert for the postings' key. Unique indexes stay: the writers' ON CONFLICT needs
    them. Restoring re-checks every key, so a replay that broke one fails. On failure the
    partial target is dropped anyway."""
    dsn = settings.database_dsn.get_secret_value()
    admin = await asyncpg.connect(dsn)
    try:
        keys = await admin.fetch(FOREIGN_KEYS, schema)
        for key in keys:
            await admin.execute(f'ALTER TABLE {key["table_name"]} DROP CONSTRAINT "{key["name"]}"')
        indexes = await admin.fetch(SECONDARY_INDEXES, schema)
        for index in indexes:
            await admin.execute(f'DROP INDEX "{schema}"."{index["name"]}"')
    finally:
        await admin.close()
    yield

    async def build(statements: list[str]) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute("SET maintenance_work_mem = '256MB'")
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    definitions = [index["definition"] for index in indexes]
    await asyncio.gather(*(build(definitions[n::INDEX_BUILDERS]) for n in range(INDEX_BUILDERS)))
    await build([
        f'ALTER TABLE {key["table_name"]} ADD CONSTRAINT "{key["name"]}" {key["definition"]}'
        for key in keys
    ])  # fmt: skip


Positions = ctypes.Array[ctypes.c_int64]  # shared between the replay processes
_reached: Positions | None = None  # in each replay process: how far each lane has got


def _share_progress(reached: Positions) -> None:
    global _reached
    _reached = reached


def _replay_in_process(settings: Settings, schema: str, index: int, to_position: int) -> None:
    lane = replay_lanes(default_registry())[index]

    def advance(position: int) -> None:
        if _reached is not None:
            _reached[index] = position

    with collector_paused():
        asyncio.run(_replay_lane(settings, schema, lane, to_position, advance))


async def replay_store(
    settings: Settings, schema: str, to_position: int,
    advance: Callable[[int], None] = lambda _: None,
) -> int:  # fmt: skip
    """Apply the store's events 1..to_position to the (migrated) target schema and return
    to_position. Each lane replays in a process of its own, so the rules of one run beside the
    database writes of the other on every core; `advance` hears the position both have
    reached. The target's secondary indexes and foreign keys are restored once the rows are
    in."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    count = len(replay_lanes(default_registry()))
    reached = context.Array("q", count, lock=False)
    async with checks_deferred_for_bulk_load(settings, schema):
        await _replay_lanes_in_processes(context, reached, settings, schema, to_position, advance)
    return to_position


async def _replay_lanes_in_processes(
    context: multiprocessing.context.ForkServerContext, reached: Positions, settings: Settings,
    schema: str, to_position: int, advance: Callable[[int], None],
) -> None:  # fmt: skip
    count = len(reached)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(
        count, mp_context=context, initializer=_share_progress, initargs=(reached,)
    ) as processes:
        pending = {
            loop.run_in_executor(
                processes, _replay_in_process, settings, schema, index, to_position
            )
            for index in range(count)
        }
        while pending:
            done, pending = await asyncio.wait(pending, timeout=PROGRESS_INTERVAL_S)
            for finished in done:
                finished.result()  # a projection that failed fails the replay
            advance(min(reached))


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
