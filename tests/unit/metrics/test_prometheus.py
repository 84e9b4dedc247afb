"""Proves the Prometheus text: a consumer stalled on one partition shows there, though its lag
over the most advanced partition reads 0; label values are escaped."""

from events.streaming.consumers import PartitionState
from metrics.entrypoints.prometheus import exposition


def test_a_partition_that_stopped_shows_though_the_lag_over_all_partitions_is_zero() -> None:
    partitions = [
        PartitionState("ledger", "payments.events.v1", 0, 120, 0.4),
        PartitionState("ledger", "payments.events.v1", 1, 73, 512.0),  # stuck at 73
    ]
    text = exposition([], {}, 120, partitions)
    lines = text.splitlines()
    assert 'fees_consumer_lag_events{consumer="ledger"} 0' in lines
    where = 'consumer="ledger",topic="payments.events.v1",partition="1"'
    assert f"fees_consumer_partition_position{{{where}}} 73" in lines
    assert f"fees_consumer_partition_idle_seconds{{{where}}} 512.0" in lines
    assert "# TYPE fees_consumer_partition_position gauge" in lines


def test_label_values_are_escaped() -> None:
    odd = PartitionState('led"ger\\', "t\nopic", 2, 5, 1.0)
    text = exposition([], {}, 5, [odd])
    assert 'consumer="led\\"ger\\\\",topic="t\\nopic",partition="2"' in text
