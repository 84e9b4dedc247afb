"""Reading event topics directly (not as a consumer group): for the demo, tests and audits."""

import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from events.kafka.messages import envelope_from_message

READ_TIMEOUT_S = 60.0
FETCH_RECORDS_MAX = 10_000


async def partitions_of(bootstrap_servers: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in sorted(topic["partitions"], key=lambda p: p["partition"])
    ]


async def open_reader(
    bootstrap_servers: str, topics: Sequence[str], *, from_beginning: bool
) -> AIOKafkaConsumer:
    """A started consumer assigned every partition, positioned at the beginning or the end."""
    partitions = await partitions_of(bootstrap_servers, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    consumer.assign(partitions)
    if from_beginning:
        await consumer.seek_to_beginning(*partitions)
    else:
        await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)  # pin the start now, before anything new arrives
    return consumer


async def read_until_seen(
    consumer: AIOKafkaConsumer, event_ids: set[str], timeout_s: float = READ_TIMEOUT_S
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records until every id in `event_ids` arrived (then one empty poll), or the timeout."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    missing = set(event_ids)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=300, max_records=FETCH_RECORDS_MAX)
        fetched = [record for batch in batches.values() for record in batch]
        records.extend(fetched)
        for record in fetched:
            missing.discard(str(envelope_from_message(record.value).event_id))
        if not missing and not fetched:
            break
    return records


async def end_offsets(bootstrap_servers: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the offset the next record will get (0 for an empty partition)."""
    partitions = await partitions_of(bootstrap_servers, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}
