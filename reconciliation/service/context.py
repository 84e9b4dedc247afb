"""The dependencies every reconciliation use case gets, and the one way they append events."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from events.clock_and_ids import Clock, IdGenerator
from events.registry import EventRegistry
from events.store.ports import AppendRequest, CommandReceipt, EventStore
from reconciliation.domain.calendar import BankingCalendar
from reconciliation.domain.day import Day, day_stream, fold
from reconciliation.domain.rules import RulesBook
from reconciliation.service.ports import ReadModel, SettlementLock
from schemas.envelope import EventPayload, NewEvent, Payload


@dataclass(frozen=True)
class Reconciler:
    store: EventStore
    registry: EventRegistry
    read_model: ReadModel
    rules_book: RulesBook
    calendar: BankingCalendar
    clock: Clock
    ids: IdGenerator
    settlement_lock: SettlementLock


@dataclass(frozen=True)
class Actor:
    """Who acts ("finance:lan") and the request's correlation id."""

    officer: str
    correlation_id: UUID

    @property
    def actor(self) -> str:
        return self.officer if ":" in self.officer else f"finance:{self.officer}"


@dataclass(frozen=True)
class Dumped:
    """A payload already dumped to JSON: a run's bulk events are dumped once, then hashed and
    stored from the same dicts. The store validates them against `model`, unless `validated`
    says the dict is the dump of a `model` that validated (NewEvent.from_dump)."""

    model: type[EventPayload]
    payload: Payload
    validated: bool = False


def new_events(
    reconciler: Reconciler, actor: Actor, payloads: Sequence[EventPayload | Dumped]
) -> list[NewEvent]:
    now = reconciler.clock.now()
    envelope = {"occurred_at": now, "correlation_id": actor.correlation_id, "actor": actor.actor}
    return [_new_event(payload, event_id=reconciler.ids.next(), **envelope) for payload in payloads]


def _new_event(payload: EventPayload | Dumped, **envelope: Any) -> NewEvent:
    if not isinstance(payload, Dumped):
        return NewEvent.from_payload(payload, **envelope)
    if payload.validated:
        return NewEvent.from_dump(payload.model, payload.payload, **envelope)
    model = payload.model
    return NewEvent(
        event_type=model.event_type,
        schema_version=model.schema_version,
        payload=payload.payload,
        **envelope,
    )


async def load_day(reconciler: Reconciler, bank_account: str, day: date) -> tuple[Day, int]:
    stream = day_stream(bank_account, day)
    envelopes = await reconciler.store.read_stream(stream)
    state = fold(bank_account, day, (reconciler.registry.parse(e) for e in envelopes))
    return state, (envelopes[-1].stream_version if envelopes else 0)


async def append_to_day(
    reconciler: Reconciler,
    actor: Actor,
    state: Day,
    version: int,
    payloads: Sequence[EventPayload | Dumped],
    receipt: CommandReceipt | None = None,
) -> None:
    """Append to the day's stream at the version its state was folded from: a concurrent run or
    decision on the same day makes this fail with ConcurrencyError instead of interleaving."""
    request = AppendRequest(
        day_stream(state.bank_account, state.business_date),
        version,
        new_events(reconciler, actor, payloads),
    )
    await reconciler.store.append_batch([request], receipt=receipt)
    await reconciler.read_model.catch_up()
