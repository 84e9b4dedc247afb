"""The one way this project builds a Kafka producer: idempotent, acks=all, explicit limits."""

from aiokafka import AIOKafkaProducer

PRODUCER_LINGER_MS = 5
PRODUCER_BATCH_BYTES_MAX = 512 * 1024
PRODUCER_REQUEST_TIMEOUT_MS = 30_000


def create_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """acks=all + idempotence: a retried send is never written twice and order per key holds."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=PRODUCER_LINGER_MS,
        max_batch_size=PRODUCER_BATCH_BYTES_MAX,
        request_timeout_ms=PRODUCER_REQUEST_TIMEOUT_MS,
    )
