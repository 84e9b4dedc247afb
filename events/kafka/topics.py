"""Kafka topics: names, partitions, retention, and which topic carries which context's events.

Topics are named `<context>.<kind>.v<N>`. Event topics keep history forever (auditors replay them),
and are keyed by stream id so that one stream's events stay in order on one partition.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from events.errors import InfrastructureError
from events.registry import EventRegistry

ADMIN_REQUEST_TIMEOUT_MS = 30_000

# Keep every event: the topic is a replayable copy of the store. Compaction would drop history.
HISTORY_TOPIC_CONFIG = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


class TopicRouter:
    """event type -> context (from the registry) -> topic name (from configuration)."""

    def __init__(self, registry: EventRegistry, topic_by_context: Mapping[str, str]) -> None:
        missing = registry.contexts() - set(topic_by_context)
        if missing:
            raise ValueError(f"no topic configured for contexts {sorted(missing)}")
        self._registry = registry
        self._topic_by_context = dict(topic_by_context)

    def topic_for(self, event_type: str, schema_version: int) -> str:
        return self._topic_by_context[self._registry.lookup(event_type, schema_version).context]

    def topics(self) -> list[str]:
        return sorted(set(self._topic_by_context.values()))


def event_topic_specs(
    topic_names: Sequence[str], partitions: int, replication_factor: int, min_insync_replicas: int
) -> list[TopicSpec]:
    configs = {**HISTORY_TOPIC_CONFIG, "min.insync.replicas": str(min_insync_replicas)}
    return [TopicSpec(name, partitions, replication_factor, configs) for name in topic_names]


async def ensure_topics(bootstrap_servers: str, specs: Sequence[TopicSpec]) -> list[str]:
    """Create missing topics; check existing ones have the partitions we expect. Returns created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=ADMIN_REQUEST_TIMEOUT_MS
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        for spec in missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            name=spec.name,
                            num_partitions=spec.partitions,
                            replication_factor=spec.replication_factor,
                            topic_configs=dict(spec.configs),
                        )
                    ]
                )
            except TopicAlreadyExistsError:
                continue  # created concurrently by another process: fine
        await _check_partitions(admin, [spec for spec in specs if spec.name in existing])
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def _check_partitions(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    if not specs:
        return
    described = await admin.describe_topics([spec.name for spec in specs])
    partitions_by_topic = {topic["topic"]: len(topic["partitions"]) for topic in described}
    for spec in specs:
        actual = partitions_by_topic.get(spec.name)
        if actual != spec.partitions:
            raise InfrastructureError(
                f"topic {spec.name} has {actual} partitions, configuration says {spec.partitions}; "
                "partition counts are fixed once keyed data exists, so fix the configuration"
            )
