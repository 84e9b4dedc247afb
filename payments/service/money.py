"""Appending events that move money, with the receipt that money held calls for."""

from datetime import datetime

from events.clock_and_ids import Clock
from events.store.ports import AppendRequest
from payments.domain.payment import Payment, evolve, needs_receipt
from payments.domain.receipts import decide_receipt, receipt_book_stream, receipt_year
from payments.service.streams import CommandContext, Streams, payment_stream, payment_view
from schemas.api.payments import PaymentView
from schemas.envelope import EventPayload


def fold_onto(state: Payment, events: list[EventPayload]) -> Payment:
    for event in events:
        state = evolve(state, event)
    return state


async def commit_payment_events(
    streams: Streams,
    clock: Clock,
    context: CommandContext,
    version: int,
    state: Payment,
    events: list[EventPayload],
) -> PaymentView:
    """Append a payment's new events; when they leave money held for the dossier, take the next
    number of the agency's receipt book in the same transaction (gap-free numbers)."""
    new_state = fold_onto(state, events)
    if not needs_receipt(new_state):
        return await _append_payment(streams, clock.now(), context, version, state, events)
    book = receipt_book_stream(new_state.agency_code, receipt_year(clock.now()))
    async with streams.receipt_book_lock(book):
        return await _append_payment(streams, clock.now(), context, version, state, events)


async def _append_payment(
    streams: Streams,
    now: datetime,
    context: CommandContext,
    version: int,
    state: Payment,
    events: list[EventPayload],
) -> PaymentView:
    new_state = fold_onto(state, events)
    payment_events = list(events)
    requests: list[AppendRequest] = []
    if needs_receipt(new_state):
        year = receipt_year(now)
        book = receipt_book_stream(new_state.agency_code, year)
        book_version = await streams.store.stream_version(book)  # never read the whole book
        book_events, issued = decide_receipt(
            new_state, book_version=book_version, year=year, now=now
        )
        payment_events.extend(issued)
        new_state = fold_onto(new_state, issued)
        requests.append(
            AppendRequest(book, book_version, streams.new_events(context, book_events, now))
        )
    response = payment_view(new_state, version + len(payment_events))
    payment_request = AppendRequest(
        payment_stream(state.payment_id), version, streams.new_events(context, payment_events, now)
    )
    await streams.commit(context, [payment_request, *requests], response)
    return response
