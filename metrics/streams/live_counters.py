"""The live counters of the Faust worker, thin shells around the pure rules.

`LiveCounters` keeps the counters in a Faust table, backed by its changelog topic so that a
worker that takes over a partition restores them. Faust refuses `table[key] = value` inside a
batch (`take` loses the "current event" it uses to pick the changelog partition: "Cannot modify
table key from outside of stream iteration"), and a per-event agent halved the pipeline's
throughput (measured). So the batch writes the table's data and sends the changelog itself, to
the event's own partition: exactly what the table does per event. A key is a source partition and
a business day, because a key's changelog lives in one partition while one day's counts come
from all of them; each day keeps the highest position it accounts for, so a redelivered batch is
not counted twice (see DayCounts).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import faust
import orjson
from faust.types import TableT

from events.streaming.decoding import DecodedEvent
from metrics.domain.rules import COUNTED_EVENT_TYPES, MetricBatch, MetricKey, counted_at
from schemas.time import business_date

LIVE_TABLE = "unit_counts_by_day"  # renamed with the key layout: no old changelog is read


def live_key(partition: int, business_day: str) -> str:
    """One key per source partition and business day (a daily window): its value holds the
    day's counters per unit (the operations view; agency and procedure breakdowns live in
    PostgreSQL). A batch then sends one changelog message per partition and day it touched, not
    one per unit: the sends were most of the table's cost (py-spy, 2026-12-03)."""
    return f"p{partition}|{business_day}"


UnitCounts = dict[str, dict[str, int]]


def add_counts(into: dict[str, int], counts: Mapping[str, int]) -> None:
    """Add counters into a running total; zeros are not stored."""
    for counter, amount in counts.items():
        if amount:
            into[counter] = into.get(counter, 0) + amount


def unit_counts_by_day(totals: Mapping[MetricKey, Mapping[str, int]]) -> dict[str, UnitCounts]:
    """The metric rules' totals as the live table keeps them: per business day and unit."""
    days: dict[str, UnitCounts] = {}
    for key, row in totals.items():
        day = days.setdefault(key.business_date.isoformat(), {})
        add_counts(day.setdefault(key.unit_code, {}), row)
    return days


@dataclass
class DayCounts:
    """One partition's counters of one day, and the highest position of that partition they
    account for. The position travels in the same changelog message as the counts, so a worker
    killed between two of a batch's messages leaves each day either counted with its position or
    not at all: the redelivered batch then counts exactly the days that were not sent."""

    counted_up_to: int = 0
    units: UnitCounts = field(default_factory=dict)

    def encode(self) -> bytes:
        return orjson.dumps({"counted_up_to": self.counted_up_to, "units": self.units})

    @classmethod
    def decode(cls, value: object) -> "DayCounts":
        """A stored day: JSON bytes as written, or the dict the changelog restored (the table's
        value serializer is Faust's json)."""
        if value is None:
            return cls()
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, bytes | bytearray | str):
            value = orjson.loads(value)
        if not isinstance(value, dict):
            raise TypeError(f"unexpected live counter value {type(value).__name__}")
        units = {
            str(unit): {str(k): int(v) for k, v in counts.items()}
            for unit, counts in value["units"].items()
        }
        return cls(int(value["counted_up_to"]), units)


class LiveCounters:
    def __init__(self, table: TableT[str, bytes]) -> None:
        self.table = table

    def _day(self, name: str) -> DayCounts:
        return DayCounts.decode(self.table.data.get(name))

    def apply(self, events: Sequence[DecodedEvent]) -> None:
        """Count a batch: increments are summed per partition and day first, so the changelog
        gets one message per partition and day the batch touched, not one per event. An event
        is skipped when its day already accounts for its position (redelivered)."""
        touched: dict[tuple[int, str], DayCounts] = {}
        batches: dict[tuple[int, str], MetricBatch] = {}
        highest: dict[int, int] = {}
        for event in events:
            envelope, payload = event.envelope, event.payload
            if envelope.event_type not in COUNTED_EVENT_TYPES:
                continue  # (all counted types are payment events: one topic, one position order)
            highest[event.partition] = max(highest.get(event.partition, 0), envelope.position)
            day_key = (event.partition, business_date(counted_at(envelope, payload)).isoformat())
            day = touched.get(day_key)
            if day is None:
                day = touched[day_key] = self._day(live_key(*day_key))
            if envelope.position <= day.counted_up_to:
                continue  # redelivered: this day has counted it already
            batches.setdefault(day_key, MetricBatch()).count(envelope, payload)
        for (partition, business_day), batch in batches.items():
            day = touched[(partition, business_day)]
            for key, row in batch.totals.items():
                add_counts(day.units.setdefault(key.unit_code, {}), row)
            # Every counted event of this partition up to its highest position in the batch has
            # been seen: those of this day are counted here, the others went to their own days.
            day.counted_up_to = highest[partition]
            name, value = live_key(partition, business_day), day.encode()
            self.table.data[name] = value
            self.table.send_changelog(partition, name, value)

    def unit_counts(self, business_day: str) -> UnitCounts:
        """One day's counters per unit, summed over this worker's partitions."""
        summed: UnitCounts = {}
        for key, value in self.table.data.items():
            if str(key).endswith(f"|{business_day}"):
                for unit, counts in DayCounts.decode(value).units.items():
                    add_counts(summed.setdefault(unit, {}), counts)
        return summed

    def totals(self, counter: str) -> int:
        """A counter summed over this worker's partitions, days and units (tests, diagnostics)."""
        return sum(
            counts.get(counter, 0)
            for value in self.table.data.values()
            for counts in DayCounts.decode(value).units.values()
        )


def live_counters(app: faust.App, *, partitions: int) -> LiveCounters:
    # The app's serializers are raw: keys are str (sent as UTF-8), values bytes (JSON).
    return LiveCounters(app.Table(LIVE_TABLE, partitions=partitions))
