"""Fixtures for tests against the real PostgreSQL and Kafka servers that scripts/stack.sh starts.

Isolation: every test gets its own PostgreSQL schema (migrated from scratch, dropped afterwards)
and its own topic names (suffixed, deleted afterwards). A server that does not answer FAILS the
test with the command to start it; integration tests never skip.
"""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from entrypoints.bootstrap import (
    Runtime,
    build_runtime,
    create_migrated_schema,
    create_pool,
    topic_specs,
)
from entrypoints.settings import Settings, load_settings
from events.errors import InfrastructureError
from events.kafka.topics import ensure_topics
from events.store.postgres import PostgresEventStore

START_HINT = "start the stack with `make up` (scripts/stack.sh up)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def test_suffix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(test_suffix: str) -> Settings:
    base = load_settings()
    return load_settings(
        database_schema=f"test_{test_suffix}",
        topic_payments_events=f"{base.topic_payments_events}.test{test_suffix}",
        topic_reconciliation_events=f"{base.topic_reconciliation_events}.test{test_suffix}",
        topic_partitions=3,
        log_format="console",
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool whose connections live in a fresh, fully migrated schema."""
    dsn = settings.database_dsn.get_secret_value()
    try:
        admin = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        pytest.fail(f"PostgreSQL is not reachable ({error}); {START_HINT}", pytrace=False)
    try:
        await create_migrated_schema(settings)
        pool = await create_pool(settings)
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def kafka_topics(settings: Settings) -> AsyncIterator[list[str]]:
    """This test's event topics, created on the real broker and deleted afterwards."""
    specs = topic_specs(settings)
    try:
        await ensure_topics(settings.kafka_bootstrap_servers, specs)
    except (KafkaError, InfrastructureError, OSError) as error:
        pytest.fail(f"Kafka is not reachable ({error!r}); {START_HINT}", pytrace=False)
    names = [spec.name for spec in specs]
    yield names
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.fixture
def runtime(settings: Settings, database: asyncpg.Pool) -> Runtime:
    return build_runtime(settings, database)


@pytest.fixture
def store(runtime: Runtime) -> PostgresEventStore:
    return runtime.store
