"""Builds the real adapters from settings. The only place that picks concrete implementations."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources

import asyncpg

from entrypoints.settings import Settings
from events.clock_and_ids import Clock, IdGenerator, RandomIds, SystemClock
from events.errors import InfrastructureError
from events.kafka.topics import TopicRouter, TopicSpec, event_topic_specs
from events.pg_sessions import release_without_reset
from events.projection import CatchUpProjector
from events.registry import EventRegistry, default_registry
from events.store.migrations import (
    Migration,
    apply_migrations,
    event_store_migrations,
    migrations_in,
)
from events.store.postgres import PostgresEventStore, init_connection
from reconciliation.adapters.projection import ReconciliationProjection
from reconciliation.adapters.read_model import PostgresReadModel
from reconciliation.adapters.reference_data import load_calendar, load_rules_book
from reconciliation.adapters.settlement_lock import PostgresSettlementLock
from reconciliation.service.context import Reconciler


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    registry: EventRegistry
    store: PostgresEventStore
    router: TopicRouter


def all_migrations() -> list[Migration]:
    """Every context's migrations, applied together in file-name order."""
    contexts = ["payments", "ledger", "metrics", "reconciliation"]
    folders = [
        migrations_in(resources.files(f"{context}.adapters.sql").joinpath("migrations"))
        for context in contexts
    ]
    return [*event_store_migrations(), *(m for folder in folders for m in folder)]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The event topics, and a dead-letter topic beside each (one partition: it is small)."""
    names = sorted(set(settings.topic_by_context().values()))
    replication = (settings.topic_replication_factor, settings.topic_min_insync_replicas)
    return [
        *event_topic_specs(names, settings.topic_partitions, *replication),
        *event_topic_specs([f"{name}.dlq" for name in names], 1, *replication),
    ]


IDLE_IN_TRANSACTION_TIMEOUT = "60s"  # well below DAY_SEAL_DELAY (events/audit/checkpoints.py)


async def create_pool(settings: Settings) -> asyncpg.Pool:
    """The schema's pool. Released connections are not reset with a query: see
    events/pg_sessions.py for why, and for the rule code that sets session state follows."""
    try:
        pool = await asyncpg.create_pool(
            settings.database_dsn.get_secret_value(),
            min_size=settings.database_pool_size_min,
            max_size=settings.database_pool_size_max,
            command_timeout=settings.database_command_timeout_s,
            server_settings={
                "search_path": settings.database_schema,
                "application_name": "province-fees",
                "timezone": "UTC",
                # A client stalled inside a transaction (holding the store's head lock, say) is
                # cut off well before a day is sealed 5 minutes after its end: an append that
                # commits later with the day's recorded_at would not be in the signed checkpoint.
                "idle_in_transaction_session_timeout": IDLE_IN_TRANSACTION_TIMEOUT,
            },
            init=init_connection,
            reset=release_without_reset,
        )
    except (OSError, asyncpg.PostgresError) as error:
        raise InfrastructureError(
            f"cannot connect to PostgreSQL ({error}); is the stack up? try `make up`"
        ) from error
    if pool is None:  # asyncpg's typing allows None only for the un-awaited form
        raise InfrastructureError("asyncpg.create_pool returned no pool")
    return pool


async def create_migrated_schema(settings: Settings) -> None:
    """Create `settings.database_schema` (a validated name) and apply every migration in it."""
    admin = await asyncpg.connect(settings.database_dsn.get_secret_value())
    try:
        await admin.execute(f'CREATE SCHEMA "{settings.database_schema}"')
    finally:
        await admin.close()
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, all_migrations())
    finally:
        await pool.close()


def build_runtime(settings: Settings, pool: asyncpg.Pool) -> Runtime:
    """Wire the real adapters around an open pool."""
    registry = default_registry()
    return Runtime(
        settings=settings,
        pool=pool,
        registry=registry,
        store=PostgresEventStore(pool, registry),
        router=TopicRouter(registry, settings.topic_by_context()),
    )


@asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    pool = await create_pool(settings)
    try:
        yield build_runtime(settings, pool)
    finally:
        await pool.close()


RECONCILIATION_PROJECTION_BATCH_MAX = 50  # events per page: a statement chunk holds 1000 lines


def build_reconciler(
    runtime: Runtime, *, clock: Clock | None = None, ids: IdGenerator | None = None
) -> Reconciler:
    """The reconciliation use cases' dependencies around an open runtime."""
    settings = runtime.settings
    projector = CatchUpProjector(
        runtime.pool, runtime.store, ReconciliationProjection(runtime.registry),
        batch_max=RECONCILIATION_PROJECTION_BATCH_MAX,
    )  # fmt: skip
    return Reconciler(
        store=runtime.store,
        registry=runtime.registry,
        read_model=PostgresReadModel(runtime.pool, projector),
        rules_book=load_rules_book(settings.recon_rules_file),
        calendar=load_calendar(settings.recon_holidays_file),
        clock=clock or SystemClock(),
        ids=ids or RandomIds(),
        settlement_lock=PostgresSettlementLock(runtime.pool, wait_max_s=settings.recon_lock_wait_s),
    )
