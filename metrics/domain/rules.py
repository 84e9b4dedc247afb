"""What each payment event adds to the online-payment-rate metrics. Pure.

Counts are attributed to the business day (Asia/Ho_Chi_Minh) of the event's own moment: a filing
to the day it was filed, a payment to the day it was captured. The formulas of the rates built
from these counts are in docs/metrics.md.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from schemas.envelope import EventHeader, EventPayload
from schemas.events.payments_v1 import (
    Channel,
    CheckoutStarted,
    DossierFiled,
    LateCaptureAccepted,
    PaymentCaptured,
    PaymentMethod,
    RefundIssued,
)
from schemas.time import business_date

COUNTERS = (
    "filed_online",
    "filed_counter",
    "fee_bearing_filed",
    "checkout_attempts",
    "paid_online",
    "paid_counter",
    "paid_online_minor",
    "paid_counter_minor",
    "refunds",
    "refunds_minor",
)


@dataclass(frozen=True, slots=True)
class MetricKey:
    business_date: date
    unit_code: str
    agency_code: str
    procedure_code: str


PaymentOpened = tuple[UUID, datetime]  # a payment's filing-to-payment clock starts: its filing
PaymentClosed = tuple[UUID, datetime, MetricKey]  # and stops: its capture, on the capture's key


@dataclass(slots=True)
class MetricBatch:
    """What a batch of events adds to the metrics, summed while it is counted: the counters per
    key (each key written once per batch), unit levels and the payments' clocks."""

    totals: dict[MetricKey, dict[str, int]] = field(default_factory=dict)
    unit_levels: dict[str, str] = field(default_factory=dict)
    opened: list[PaymentOpened] = field(default_factory=list)
    closed: list[PaymentClosed] = field(default_factory=list)

    def count(self, envelope: EventHeader, event: EventPayload) -> None:
        """Add one event. Types outside COUNTED_EVENT_TYPES add nothing."""
        rule = _RULES.get(type(event))  # by exact type: a dict probe, not isinstance checks
        if rule is not None:
            rule(self, counted_at(envelope, event), event)

    def add(self, key: MetricKey, counter: str, amount: int) -> None:
        row = self.totals.get(key)
        if row is None:
            row = self.totals[key] = dict.fromkeys(COUNTERS, 0)
        row[counter] += amount


def counted_at(envelope: EventHeader, event: EventPayload) -> datetime:
    """The instant an event is counted at; its business day is the day of the metrics it adds
    to: when the money was captured for a capture, when the event happened otherwise."""
    if type(event) is PaymentCaptured:
        return event.captured_at
    return envelope.occurred_at


def counted(events: Iterable[tuple[EventHeader, EventPayload]]) -> MetricBatch:
    batch = MetricBatch()
    for envelope, event in events:
        batch.count(envelope, event)
    return batch


def _key(moment: datetime, unit: str, agency: str, procedure: str) -> MetricKey:
    return MetricKey(business_date(moment), unit, agency, procedure)


def _filed(batch: MetricBatch, moment: datetime, event: DossierFiled) -> None:
    key = _key(moment, event.unit_code, event.agency_code, event.procedure_code)
    batch.add(key, "filed_online" if event.channel is Channel.ONLINE else "filed_counter", 1)
    if event.fee.amount_minor > 0:
        batch.add(key, "fee_bearing_filed", 1)
    batch.unit_levels[event.unit_code] = event.administrative_level.value
    if event.payment_id is not None:  # the filing decides the payment: its clock starts
        batch.opened.append((event.payment_id, moment))


def _checkout(batch: MetricBatch, moment: datetime, event: CheckoutStarted) -> None:
    key = _key(moment, event.unit_code, event.agency_code, event.procedure_code)
    batch.add(key, "checkout_attempts", 1)


def _captured(batch: MetricBatch, moment: datetime, event: PaymentCaptured) -> None:
    if not event.after_expiry:  # late money counts once accepted (LateCaptureAccepted)
        _paid(batch, event.payment_id, moment, event.method, event.amount.amount_minor,
              event.unit_code, event.agency_code, event.procedure_code)  # fmt: skip


def _late_capture(batch: MetricBatch, moment: datetime, event: LateCaptureAccepted) -> None:
    _paid(batch, event.payment_id, moment, PaymentMethod.ONLINE_GATEWAY,
          event.amount.amount_minor, event.unit_code, event.agency_code,
          event.procedure_code)  # fmt: skip


def _refund(batch: MetricBatch, moment: datetime, event: RefundIssued) -> None:
    key = _key(moment, event.unit_code, event.agency_code, event.procedure_code)
    batch.add(key, "refunds", 1)
    batch.add(key, "refunds_minor", event.amount.amount_minor)


def _paid(
    batch: MetricBatch,
    payment_id: UUID,
    moment: datetime,
    method: PaymentMethod,
    amount_minor: int,
    unit: str,
    agency: str,
    procedure: str,
) -> None:
    key = _key(moment, unit, agency, procedure)
    online = method is PaymentMethod.ONLINE_GATEWAY
    batch.add(key, "paid_online" if online else "paid_counter", 1)
    batch.add(key, "paid_online_minor" if online else "paid_counter_minor", amount_minor)
    batch.closed.append((payment_id, moment, key))


_RULES: dict[type[EventPayload], Callable[[MetricBatch, datetime, Any], None]] = {
    DossierFiled: _filed,
    CheckoutStarted: _checkout,
    PaymentCaptured: _captured,
    LateCaptureAccepted: _late_capture,
    RefundIssued: _refund,
}
# The only event types a batch counts (a replay reads no others; a test holds this true).
COUNTED_EVENT_TYPES = frozenset(payload.event_type for payload in _RULES)


def rate(numerator: int, denominator: int) -> float | None:
    """A rate for display (a ratio, not money): None when there is nothing to divide by."""
    return None if denominator == 0 else numerator / denominator
