"""A seeded simulation of a working day at the province's one-stop-shops, made of real decisions.

Every event comes from the same pure decide functions the API uses, so the simulated history is
one the service could have written: dossiers filed online (about 73.6%) or at the counter, online
payments that succeed, fail and retry, or expire (a few paid late anyway), counter payments in
cash or by card, receipts from each agency's book, and some refunds. Same seed, same history.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from events.store.ports import NO_STREAM, AppendRequest
from payments.domain.callbacks import GatewayResult, decide_gateway_result
from payments.domain.dossier import FileDossier, decide_filing
from payments.domain.fee_schedule import FeeSchedule, Procedure, UnitDirectory
from payments.domain.payment import (
    Payment,
    decide_accept_late_capture,
    decide_checkout,
    decide_counter_payment,
    decide_expiry,
    decide_refund,
    evolve,
    needs_receipt,
)
from payments.domain.receipts import decide_receipt, receipt_book_stream, receipt_year
from payments.domain.suspense import decide_flagged_money_refund
from schemas.envelope import EventPayload, NewEvent
from schemas.events.payments_v1 import Channel, PaymentMethod
from schemas.time import business_date

ONLINE_FILING_SHARE = 0.736  # the province's reported share of dossiers filed online
DAY_SECONDS = 9 * 3600  # office hours: 08:00-17:00
PAYMENT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Mix:
    """How online payments turn out, as shares of online dossiers."""

    fail_then_pay: float = 0.06
    abandon: float = 0.04  # never paid: expires
    paid_late: float = 0.005  # expires, then the gateway's money arrives anyway
    refund: float = 0.02  # of paid dossiers, a full or partial refund
    # Of online dossiers (within fail_then_pay): the failed first order turns out paid after the
    # second was, and a clerk refunds the double payment. Off by default, so the seeded days the
    # tests rely on stay as they are; it draws from its own generator for the same reason.
    paid_twice: float = 0.0


@dataclass
class _Books:
    versions: dict[str, int] = field(default_factory=dict)


@dataclass
class _Ids:
    rng: random.Random

    def next(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


class Simulation:
    def __init__(
        self,
        schedule: FeeSchedule,
        units: UnitDirectory,
        *,
        seed: int,
        start_at: datetime,
        mix: Mix | None = None,
        book_versions: dict[str, int] | None = None,
    ) -> None:
        self._rng = random.Random(seed)
        self._ids = _Ids(self._rng)
        self._twice_rng = random.Random(f"paid-twice:{seed}")  # never another seed's stream
        self._twice_ids = _Ids(self._twice_rng)
        self._schedule = schedule
        self._units = units
        self._start_at = start_at
        self._mix = mix or Mix()
        # Receipt books continue where the store has them (a second run of the same day).
        self._books = _Books(dict(book_versions or {}))
        on = business_date(start_at)
        self._procedures = [p for p in schedule.procedures_in_effect(on)]
        self.stats: dict[str, int] = {}

    def batches(self, dossier_count: int, dossiers_per_batch: int) -> Iterator[list[AppendRequest]]:
        """Append batches; the receipt books of a batch get one request per book."""
        for start in range(0, dossier_count, dossiers_per_batch):
            requests: list[AppendRequest] = []
            book_events: dict[str, list[NewEvent]] = {}
            for index in range(start, min(start + dossiers_per_batch, dossier_count)):
                moment = self._start_at + timedelta(seconds=DAY_SECONDS * index / dossier_count)
                requests.extend(self._dossier(moment, book_events))
            for book, events in book_events.items():
                version = self._books.versions.get(book, 0)
                requests.append(AppendRequest(book, version, events))
                self._books.versions[book] = version + len(events)
            yield requests

    def _count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def _procedure(self) -> tuple[Procedure, str]:
        procedure = self._rng.choice(self._procedures)
        unit = self._rng.choice(self._units.units_at(procedure.administrative_level))
        return procedure, unit.code

    def _dossier(self, moment: datetime, books: dict[str, list[NewEvent]]) -> list[AppendRequest]:
        procedure, unit_code = self._procedure()
        online = self._rng.random() < ONLINE_FILING_SHARE
        citizen = f"{self._rng.randrange(10**11, 10**12)}"
        command = FileDossier(
            dossier_id=self._ids.next(),
            payment_id=self._ids.next(),
            citizen_id=citizen,
            procedure_code=procedure.code,
            unit_code=unit_code,
            channel=Channel.ONLINE if online else Channel.COUNTER,
            quantity=self._rng.randint(1, 3) if procedure.fee_per_unit_minor else 1,
        )
        filing = decide_filing(command, self._schedule, self._units, moment, PAYMENT_WINDOW)
        self._count("dossiers_online" if online else "dossiers_counter")
        correlation = self._ids.next()
        actor = f"citizen:{citizen}" if online else f"clerk:can-bo-{unit_code.lower()}"
        requests = [
            AppendRequest(
                f"dossier-{command.dossier_id}",
                NO_STREAM,
                self._events(filing.dossier_events, moment, correlation, actor),
            )
        ]
        if filing.payment_events:
            history = self._payment(filing.payment_events, online, moment, unit_code)
            payment_events: list[NewEvent] = []
            state: Payment | None = None
            for when, who, payloads in history:
                payment_events.extend(self._events(payloads, when, correlation, who))
                for payload in payloads:
                    state = evolve(state, payload)
                if state is not None and needs_receipt(state):
                    issued = self._receipt(state, books, when, correlation)
                    payment_events.extend(
                        self._events(issued, when, correlation, "system:receipts")
                    )
                    for payload in issued:
                        state = evolve(state, payload)
            requests.append(
                AppendRequest(f"payment-{command.payment_id}", NO_STREAM, payment_events)
            )
        return requests

    def _payment(
        self, requested: list[EventPayload], online: bool, moment: datetime, unit: str
    ) -> list[tuple[datetime, str, list[EventPayload]]]:
        """(when, actor, events) of one payment's life after its request."""
        state = _fold(requested)
        steps: list[tuple[datetime, str, list[EventPayload]]] = [
            (moment, "system:filing", requested)
        ]
        clock = moment
        if not online:
            clock += timedelta(minutes=self._rng.randint(1, 20))
            method = self._rng.choice(
                [PaymentMethod.COUNTER_CASH] * 7 + [PaymentMethod.COUNTER_POS] * 3
            )
            events = decide_counter_payment(
                state,
                method=method,
                amount_minor=state.due_minor,
                reference=f"Q-{self._rng.randrange(10**6)}",
                now=clock,
            )
            steps.append((clock, f"clerk:can-bo-{unit.lower()}", events))
            self._count("paid_counter")
            return self._maybe_refund(steps, unit)
        draw = self._rng.random()
        attempts = 2 if draw < self._mix.fail_then_pay else 1
        for attempt in range(1, attempts + 1):
            clock += timedelta(minutes=self._rng.randint(1, 30))
            state = _fold([e for _, _, es in steps for e in es])
            order = f"{state.payment_id.hex}{attempt:02d}"
            checkout = decide_checkout(
                state,
                gateway="VNPAY",
                order_ref=order,
                now=clock,
                gateway_expires_at=clock + timedelta(minutes=15),
            )
            steps.append((clock, "citizen:payer", checkout))
            state = evolve(state, checkout[0])
            abandoned = (
                self._mix.fail_then_pay <= draw < self._mix.fail_then_pay + self._mix.abandon
            )
            if abandoned:
                return self._expire(steps, state, clock)
            failed = attempt < attempts
            clock += timedelta(seconds=self._rng.randint(20, 300))
            result = GatewayResult(
                "VNPAY",
                order,
                state.due_minor,
                "VND",
                not failed,
                "24" if failed else "00",
                None if failed else str(self._rng.randrange(10**7, 10**8)),
                "NCB",
                clock,
            )
            decision = decide_gateway_result(
                state, result, evidence_id=self._ids.next(), proposal_id=self._ids.next(), now=clock
            )
            steps.append((clock, "gateway:vnpay", decision.events))
        self._count("paid_online")
        if (
            attempts == 2
            and self._twice_rng.random() < self._mix.paid_twice / self._mix.fail_then_pay
        ):
            self._paid_twice(steps, f"{state.payment_id.hex}01", clock, unit)
        return self._maybe_refund(steps, unit)

    def _paid_twice(
        self,
        steps: list[tuple[datetime, str, list[EventPayload]]],
        first_order: str,
        clock: datetime,
        unit: str,
    ) -> None:
        """The first order, reported failed, was paid after all: flagged, then refunded."""
        state = _fold([e for _, _, es in steps for e in es])
        late = clock + timedelta(minutes=10)
        transaction = str(self._twice_rng.randrange(10**7, 10**8))
        result = GatewayResult(
            "VNPAY", first_order, state.due_minor, "VND", True, "00", transaction, "NCB", late
        )
        ids = self._twice_ids
        evidence_id = ids.next()
        decision = decide_gateway_result(
            state, result, evidence_id=evidence_id, proposal_id=ids.next(), now=late
        )
        steps.append((late, "gateway:vnpay", decision.events))
        state = _fold([e for _, _, es in steps for e in es])
        clerk = f"can-bo-{unit.lower()}"
        refund = decide_flagged_money_refund(
            state,
            evidence_id=evidence_id,
            refund_id=ids.next(),
            reason="nộp tiền hai lần: hoàn lại lần thứ hai",
            approved_by=clerk,
        )
        steps.append((late + timedelta(hours=1), f"clerk:{clerk}", refund))
        self._count("paid_twice")

    def _expire(
        self, steps: list[tuple[datetime, str, list[EventPayload]]], state: Payment, clock: datetime
    ) -> list[tuple[datetime, str, list[EventPayload]]]:
        deadline = state.expires_at
        steps.append((deadline, "system:expiry-sweeper", decide_expiry(state, deadline)))
        self._count("expired")
        if self._rng.random() < self._mix.paid_late / self._mix.abandon:
            state = _fold([e for _, _, es in steps for e in es])
            late = deadline + timedelta(minutes=5)
            result = GatewayResult(
                "VNPAY",
                state.order_refs[-1],
                state.due_minor,
                "VND",
                True,
                "00",
                str(self._rng.randrange(10**7, 10**8)),
                "NCB",
                late,
            )
            decision = decide_gateway_result(
                state, result, evidence_id=self._ids.next(), proposal_id=self._ids.next(), now=late
            )
            steps.append((late, "gateway:vnpay", decision.events))
            state = _fold([e for _, _, es in steps for e in es])
            accept = late + timedelta(hours=1)
            steps.append(
                (
                    accept,
                    "finance:ke-toan-1",
                    decide_accept_late_capture(state, "ke-toan-1", "citizen confirmed"),
                )
            )
            self._count("paid_late")
        return steps

    def _maybe_refund(
        self, steps: list[tuple[datetime, str, list[EventPayload]]], unit: str
    ) -> list[tuple[datetime, str, list[EventPayload]]]:
        if self._rng.random() >= self._mix.refund:
            return steps
        state = _fold([e for _, _, es in steps for e in es])
        when = steps[-1][0] + timedelta(minutes=30)
        amount = (
            state.captured_minor if self._rng.random() < 0.5 else max(1, state.captured_minor // 2)
        )
        events = decide_refund(
            state,
            refund_id=self._ids.next(),
            amount_minor=amount,
            reason="hồ sơ không cần thiết",
            approved_by=f"can-bo-{unit.lower()}",
        )
        steps.append((when, f"clerk:can-bo-{unit.lower()}", events))
        self._count("refunds")
        return steps

    def _receipt(
        self,
        state: Payment,
        books: dict[str, list[NewEvent]],
        when: datetime,
        correlation: uuid.UUID,
    ) -> list[EventPayload]:
        """The next number of the agency's book, as the service issues it with the capture."""
        year = receipt_year(when)
        book = receipt_book_stream(state.agency_code, year)
        version = self._books.versions.get(book, 0) + len(books.get(book, []))
        book_events, issued = decide_receipt(state, book_version=version, year=year, now=when)
        books.setdefault(book, []).extend(
            self._events(book_events, when, correlation, "system:receipts")
        )
        return issued

    def _events(
        self, payloads: list[EventPayload], when: datetime, correlation: uuid.UUID, actor: str
    ) -> list[NewEvent]:
        return [
            NewEvent.from_payload(
                payload,
                event_id=self._ids.next(),
                occurred_at=when,
                correlation_id=correlation,
                actor=actor,
            )
            for payload in payloads
        ]


def _fold(events: list[EventPayload]) -> Payment:
    state: Payment | None = None
    for event in events:
        state = evolve(state, event)
    if state is None:
        raise ValueError("no payment events")
    return state
