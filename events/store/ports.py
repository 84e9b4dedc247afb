"""What the rest of the system may ask of an event store."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from schemas.envelope import EventEnvelope, NewEvent

NO_STREAM = 0  # expected_version for a stream that must not exist yet
APPEND_EVENTS_MAX = 10_000  # events in one append call (all requests of a batch together)
READ_PAGE_MAX = 10_000  # rows in one page of read_all
STREAM_LENGTH_MAX = 100_000  # events read back for one stream


@dataclass(frozen=True)
class AppendRequest:
    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    positions: tuple[int, ...]
    stream_version: int  # the stream's version after these events
    already_stored: bool  # True when this was an identical replay: nothing was written


@dataclass(frozen=True)
class CommandReceipt:
    """The stored answer to a client request, written atomically with the request's events."""

    scope: str
    key: str
    request_hash: bytes  # SHA-256 of the request as the client sent it
    status_code: int
    response: dict[str, Any]
    last_position: int = 0  # filled in by the store


@dataclass(frozen=True)
class ChainHead:
    position: int
    entry_hash: bytes
    recorded_at: datetime | None


class EventStore(Protocol):
    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult: ...

    async def append_batch(
        self, requests: Sequence[AppendRequest], *, receipt: CommandReceipt | None = None
    ) -> list[AppendResult]: ...

    async def find_receipt(self, scope: str, key: str) -> CommandReceipt | None: ...

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None
    ) -> list[EventEnvelope]: ...

    async def stream_version(self, stream_id: str) -> int: ...

    async def read_all(
        self, from_position: int, limit: int, *, to_position: int | None = None
    ) -> list[EventEnvelope]: ...

    def iter_all(
        self, from_position: int = 0, *, to_position: int | None = None, page_size: int = 1000
    ) -> AsyncIterator[EventEnvelope]: ...

    async def position_at(self, instant: datetime) -> int: ...

    async def head(self) -> ChainHead: ...
