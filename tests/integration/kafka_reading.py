"""Reading a test's topics back from the real broker, from the beginning."""

from aiokafka.structs import ConsumerRecord

from events.kafka.reading import open_reader, read_until_seen


async def consume_until(
    bootstrap_servers: str, topics: list[str], event_ids: set[str]
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = await open_reader(bootstrap_servers, topics, from_beginning=True)
    try:
        return await read_until_seen(consumer, event_ids)
    finally:
        await consumer.stop()
