"""Per-message work Faust does by default that this project's worker does not use.

Every fetched message passes through Faust's schema, its monitor sensor and its producer
buffer check before an agent sees it. At the pipeline's 10,000 events/s those fixed costs were
about a sixth of a worker's CPU (py-spy, bench/stream_e2e.py --backlog, 2026-12-03):

- `RawSchema`: the worker's topics carry bytes and the agent decodes them itself (with the
  project's pydantic models, dead-lettering what fails: events/streaming/decoding.py). Faust's
  schema looked up the "raw" codec twice per message and the Event class in the settings.
- `LeanMonitor`: Faust's monitor keeps per-message statistics for Faust's own web pages, which
  the worker does not serve (`--without-web`; operations read the API's `/metrics`). It still
  records when each partition's stream last took an event, which Faust's stalled-stream
  warnings read; everything else per message is skipped.
- `LeanProducerBuffer`: the conductor asks the producer buffer for its size before every
  message, and the size read the `producer_threaded` setting through Faust's settings registry
  each time. The buffer's threaded producer, set only when that setting is on, answers it.
"""

from time import monotonic
from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.transport.producer import ProducerBuffer
from faust.types import TP, AppT, EventT, Message, StreamT
from mode.threads import ServiceThread


class RawSchema(faust.Schema[bytes, bytes]):
    """Keys and values as the bytes Kafka delivered (None stays None)."""

    def __init__(self) -> None:
        super().__init__(key_type=bytes, value_type=bytes, allow_empty=True)

    def compile(self, app: AppT, **_: Any) -> Any:
        async def decode(message: Message, *, propagate: bool = False) -> EventT[bytes]:
            return faust.Event(app, message.key, message.value, message.headers, message)

        return decode


class LeanMonitor(Monitor):
    """Faust's monitor without its per-message statistics (see the module's docstring)."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        pass

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        self.stream_inbound_time[tp] = monotonic()  # read by the stalled-stream warnings
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any], state: Any = None
    ) -> None:
        pass

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        pass


class LeanProducerBuffer(ProducerBuffer):
    # Set (by events/streaming/transport.Producer) only when producer_threaded is on.
    threaded_producer: ServiceThread | None = None

    @property
    def size(self) -> int:
        if self.threaded_producer is not None:
            return len(self.queue._queue) if self.queue else 0  # type: ignore[attr-defined]
        return len(self.pending._queue)  # type: ignore[attr-defined]
