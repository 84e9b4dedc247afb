"""Proves our partition choice is Kafka's default one (aiokafka's Java-compatible murmur2)."""

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2
from hypothesis import given
from hypothesis import strategies as st

from events.kafka.partitioning import murmur2, partition_for


@given(st.binary(max_size=200))
def test_murmur2_equals_the_reference(data: bytes) -> None:
    assert murmur2(data) == reference_murmur2(data) & 0xFFFFFFFF


@given(st.text(min_size=1, max_size=80), st.integers(min_value=1, max_value=64))
def test_partition_equals_the_default_partitioner(key: str, count: int) -> None:
    encoded = key.encode()
    partitions = list(range(count))
    assert partition_for(encoded, count) == DefaultPartitioner()(encoded, partitions, partitions)


def test_known_vector_from_the_java_client() -> None:
    # org.apache.kafka.common.utils.UtilsTest: murmur2("21") == -973932308
    assert murmur2(b"21") == -973932308 & 0xFFFFFFFF
