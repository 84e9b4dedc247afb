"""The live counters of the Faust worker, thin shells around the pure rules.

`LiveCounters` keeps the counters in a Faust table, backed by its changelog topic so that a
worker that takes over a partition restores them. Faust refuses `table[key] = value` inside a
batch (`take` loses the "current event" it uses to pick the changelog partition: "Cannot modify
table key from outside of stream iteration"), and a per-event agent halved the pipeline's
throughput (measured). So the batch writes the table's data and sends the changelog itself, to
the event's own partition: exactly what the table does per event. Keys start with the source
partition, because a key's changelog lives in one partition while counts for one day/unit come
from all of them; the highest position counted per partition is kept too, so a redelivered batch
is not counted twice.
"""

from collections.abc import Sequence

import faust
import orjson
from faust.types import TableT

from events.streaming.decoding import DecodedEvent
from metrics.domain.rules import MetricBatch

LIVE_TABLE = "metric_key_to_count"


def live_key(partition: int, business_day: str, unit: str) -> str:
    """Live counters are per day and unit (the operations view); agency and procedure
    breakdowns live in PostgreSQL. Fewer keys, fewer changelog messages per batch."""
    return f"p{partition}|{business_day}|{unit}"


class LiveCounters:
    def __init__(self, table: TableT[str, bytes]) -> None:
        self.table = table

    def _set(self, partition: int, key: str, value: bytes) -> None:
        self.table.data[key] = value
        self.table.send_changelog(partition, key, value)

    def apply(self, events: Sequence[DecodedEvent]) -> None:
        """Count a batch: increments are summed per key first, so the changelog gets one
        message per key touched (and one position per partition), not one per event."""
        batches: dict[int, MetricBatch] = {}
        counted_up_to: dict[int, int] = {}
        for event in events:
            partition = event.partition
            if partition not in counted_up_to:
                counted_up_to[partition] = _position(self.table.data.get(f"p{partition}|position"))
            if event.envelope.position <= counted_up_to[partition]:
                continue  # redelivered: already counted
            counted_up_to[partition] = event.envelope.position
            batches.setdefault(partition, MetricBatch()).count(event.envelope, event.payload)
        increments: dict[tuple[int, str], dict[str, int]] = {}
        for partition, batch in batches.items():
            for key, row in batch.totals.items():
                name = live_key(partition, key.business_date.isoformat(), key.unit_code)
                batch_counts = increments.setdefault((partition, name), {})
                for counter, amount in row.items():
                    if amount:
                        batch_counts[counter] = batch_counts.get(counter, 0) + amount
        for (partition, name), added in increments.items():
            counts = _counts(self.table.data.get(name))
            for counter, amount in added.items():
                counts[counter] = counts.get(counter, 0) + amount
            self._set(partition, name, orjson.dumps(counts))
        for partition, position in counted_up_to.items():
            self._set(partition, f"p{partition}|position", str(position).encode())

    def totals(self, counter: str) -> int:
        """A counter summed over this worker's partitions (tests, diagnostics)."""
        return sum(
            _counts(value).get(counter, 0)
            for key, value in self.table.data.items()
            if not str(key).endswith("|position")
        )


def _counts(value: object) -> dict[str, int]:
    """A stored counter set: JSON bytes as written, or as the changelog restored it."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): int(v) for k, v in value.items()}
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes | bytearray | str):
        loaded = orjson.loads(value)
        return {str(k): int(v) for k, v in loaded.items()}
    raise TypeError(f"unexpected live counter value {type(value).__name__}")


def _position(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes | bytearray):
        return int(value.decode())
    return int(str(value))


def live_counters(app: faust.App, *, partitions: int) -> LiveCounters:
    # The app's serializers are raw: keys are str (sent as UTF-8), values bytes (JSON).
    return LiveCounters(app.Table(LIVE_TABLE, partitions=partitions))
