"""A throwaway schema and topics for one benchmark run, so figures never mix with other data."""

import shutil
import uuid

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from entrypoints.bootstrap import create_migrated_schema, topic_specs
from entrypoints.settings import Settings, load_settings
from events.kafka.topics import ensure_topics


def scratch_settings(name: str, **overrides: object) -> Settings:
    """Settings with this run's own schema and topics: `clean_up` drops exactly those, never
    the live ones."""
    suffix = uuid.uuid4().hex[:8]
    base = load_settings()
    return load_settings(
        database_schema=f"{name}_{suffix}",
        topic_payments_events=f"{base.topic_payments_events}.{name}{suffix}",
        topic_reconciliation_events=f"{base.topic_reconciliation_events}.{name}{suffix}",
        **overrides,
    )


async def prepare(settings: Settings) -> None:
    """Create and migrate `settings.database_schema`; create the settings' topics."""
    await create_migrated_schema(settings)
    await ensure_topics(settings.kafka_bootstrap_servers, topic_specs(settings))


async def clean_up(settings: Settings) -> None:
    """Drop the schema, the topics, any topic of the run's Faust app (changelogs) and its
    state directory."""
    shutil.rmtree(settings.stream_data_dir / settings.stream_app_id, ignore_errors=True)
    admin = await asyncpg.connect(settings.database_dsn.get_secret_value())
    try:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')
    finally:
        await admin.close()
    kafka = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await kafka.start()
    try:
        names = {spec.name for spec in topic_specs(settings)}
        existing = set(await kafka.list_topics())
        doomed = [n for n in existing if n in names or n.startswith(f"{settings.stream_app_id}-")]
        if doomed:
            await kafka.delete_topics(doomed)
    finally:
        await kafka.close()
