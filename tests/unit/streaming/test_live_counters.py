"""Proves the live counters (metrics/streams/live_counters.py) count each event once per day and
unit, as the metric rules do, even when a worker was killed after sending only some of a batch's
changelog messages and the batch is delivered again to the worker that restored the rest."""

from datetime import timedelta
from typing import Any

from events.streaming.decoding import DecodedEvent
from metrics.domain.rules import counted
from metrics.streams.live_counters import LiveCounters, UnitCounts, unit_counts_by_day
from tests.unit.history import START_AT, simulated_history


class ChangelogTable:
    """The two parts of a Faust table the counters use: its data and its changelog sends."""

    def __init__(self, data: dict[str, bytes] | None = None) -> None:
        self.data: dict[str, bytes] = dict(data or {})
        self.sent: list[tuple[int, str, bytes]] = []

    def send_changelog(self, partition: int, key: str, value: bytes) -> None:
        self.sent.append((partition, key, value))


def two_days() -> list[DecodedEvent]:
    """Two simulated days in one partition, positioned one after the other."""
    first = simulated_history(15)
    second = simulated_history(15, seed=4, start_at=START_AT + timedelta(days=1))
    second = [
        (envelope.model_copy(update={"position": envelope.position + len(first)}), payload)
        for envelope, payload in second
    ]
    return [
        DecodedEvent(envelope, payload, partition=0, offset=offset)
        for offset, (envelope, payload) in enumerate(first + second)
    ]


def by_day_and_unit(events: list[DecodedEvent]) -> dict[str, UnitCounts]:
    """What the metric rules count, summed per business day and unit (non-zero counters)."""
    return unit_counts_by_day(counted((event.envelope, event.payload) for event in events).totals)


def counts_of(live: LiveCounters, days: dict[str, Any]) -> dict[str, UnitCounts]:
    return {day: live.unit_counts(day) for day in days}


def test_a_batch_counts_as_the_rules_do_per_day_and_unit() -> None:
    events = two_days()
    expected = by_day_and_unit(events)
    assert len(expected) == 2
    table = ChangelogTable()
    live = LiveCounters(table)  # type: ignore[arg-type]
    for start in range(0, len(events), 40):
        live.apply(events[start : start + 40])
    assert counts_of(live, expected) == expected


def test_a_batch_half_sent_before_a_kill_is_counted_once_when_delivered_again() -> None:
    events = two_days()
    expected = by_day_and_unit(events)
    killed = ChangelogTable()
    LiveCounters(killed).apply(events)  # type: ignore[arg-type]
    assert len(killed.sent) == 2  # one message per day the batch touched
    # The worker died after its first message reached Kafka: the next one restores only that.
    _, key, value = killed.sent[0]
    restarted = LiveCounters(ChangelogTable({key: value}))  # type: ignore[arg-type]
    restarted.apply(events)  # Kafka delivers the uncommitted batch again
    assert counts_of(restarted, expected) == expected
    restarted.apply(events)  # and once more: nothing changes
    assert counts_of(restarted, expected) == expected
