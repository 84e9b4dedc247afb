"""Loading aggregates from the event store and appending their new events (P2 of STYLE.md)."""

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from events.clock_and_ids import IdGenerator
from events.errors import ConcurrencyError
from events.registry import EventRegistry
from events.store.ports import AppendRequest, CommandReceipt, EventStore
from payments.domain.dossier import Dossier, fold_dossier
from payments.domain.errors import NotFoundError
from payments.domain.payment import Payment, fold
from payments.service.ports import Idempotency
from schemas.api.auth import Principal
from schemas.api.payments import ApiModel, PaymentView
from schemas.envelope import EventPayload, NewEvent

RETRY_COUNT_MAX = 8
RETRY_PAUSE_S_MAX = 0.005
T = TypeVar("T")


@dataclass(frozen=True)
class CommandContext:
    """Who asks, under which correlation id, with which ids, and (for POSTs) which key."""

    principal: Principal
    correlation_id: UUID
    ids: IdGenerator
    idempotency: Idempotency | None = None


def payment_stream(payment_id: UUID) -> str:
    return f"payment-{payment_id}"


def dossier_stream(dossier_id: UUID) -> str:
    return f"dossier-{dossier_id}"


def payment_view(state: Payment, version: int) -> PaymentView:
    return PaymentView(
        payment_id=state.payment_id,
        dossier_id=state.dossier_id,
        citizen_id=state.citizen_id,
        unit_code=state.unit_code,
        agency_code=state.agency_code,
        procedure_code=state.procedure_code,
        status=state.status.value,
        scheduled_minor=state.scheduled_minor,
        due_minor=state.due_minor,
        captured_minor=state.captured_minor,
        refunded_minor=state.refunded_minor,
        method=state.method,
        expires_at=state.expires_at,
        attempts=state.attempts,
        receipt_number=state.receipt_number,
        open_refund_proposals=dict(state.open_proposals),
        flagged_money_held={k: held.amount_minor for k, held in state.flagged_money.items()},
        version=version,
    )


async def with_retries(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run load-decide-append again after a lost race, a bounded number of times, with a short
    random pause so that the racers do not collide again in lockstep."""
    for retry in range(RETRY_COUNT_MAX - 1):
        try:
            return await attempt()
        except ConcurrencyError:
            await asyncio.sleep(random.uniform(0, RETRY_PAUSE_S_MAX * (retry + 1)))
    return await attempt()


class Streams:
    """Typed reads and writes of the payments context's streams."""

    def __init__(self, store: EventStore, registry: EventRegistry) -> None:
        self.store = store
        self._registry = registry
        self._book_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def receipt_book_lock(self, book_stream: str) -> asyncio.Lock:
        """Captures of one agency all take the next number of the same receipt-book stream;
        taking them one at a time in this process avoids a storm of version conflicts (across
        processes, the stream's optimistic concurrency still decides)."""
        return self._book_locks[book_stream]

    async def load(self, stream_id: str) -> tuple[int, list[EventPayload]]:
        envelopes = await self.store.read_stream(stream_id)
        return len(envelopes), [self._registry.parse(envelope) for envelope in envelopes]

    async def payment(self, payment_id: UUID) -> tuple[int, Payment]:
        version, events = await self.load(payment_stream(payment_id))
        state = fold(events)
        if state is None:
            raise NotFoundError(f"no payment {payment_id}", payment_id=str(payment_id))
        return version, state

    async def dossier(self, dossier_id: UUID) -> tuple[int, Dossier]:
        version, events = await self.load(dossier_stream(dossier_id))
        state = fold_dossier(events)
        if state is None:
            raise NotFoundError(f"no dossier {dossier_id}", dossier_id=str(dossier_id))
        return version, state

    @staticmethod
    def new_events(
        context: CommandContext, payloads: Sequence[EventPayload], now: datetime
    ) -> list[NewEvent]:
        return [
            NewEvent.from_payload(
                payload,
                event_id=context.ids.next(),
                occurred_at=now,
                correlation_id=context.correlation_id,
                actor=context.principal.actor,
            )
            for payload in payloads
        ]

    async def commit(
        self,
        context: CommandContext,
        requests: list[AppendRequest],
        response: ApiModel | None = None,
        status_code: int = 200,
    ) -> None:
        """Append all streams' events in one transaction, with the request's receipt if keyed."""
        receipt = None
        if context.idempotency is not None and response is not None:
            receipt = CommandReceipt(
                scope=context.idempotency.scope,
                key=context.idempotency.key,
                request_hash=context.idempotency.request_hash,
                status_code=status_code,
                response=response.model_dump(mode="json"),
            )
        requests = [request for request in requests if request.events]
        if requests:
            await self.store.append_batch(requests, receipt=receipt)
            if receipt is not None and context.idempotency is not None:
                context.idempotency.recorded = True
