"""What each payment event adds to the online-payment-rate metrics. Pure.

Counts are attributed to the business day (Asia/Ho_Chi_Minh) of the event's own moment: a filing
to the day it was filed, a payment to the day it was captured. The formulas of the rates built
from these counts are in docs/metrics.md.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from schemas.envelope import EventEnvelope, EventPayload
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


@dataclass(frozen=True, slots=True)
class MetricDelta:
    key: MetricKey
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaymentTiming:
    """The filing-to-payment clock of one payment: opened when its dossier is filed (the
    filing decides the payment), closed by the capture."""

    payment_id: UUID
    filed_at: datetime | None = None
    captured_at: datetime | None = None
    key: MetricKey | None = None  # the capture's day and dimensions


@dataclass(frozen=True, slots=True)
class MetricFacts:
    deltas: list[MetricDelta] = field(default_factory=list)
    unit_levels: dict[str, str] = field(default_factory=dict)
    timings: list[PaymentTiming] = field(default_factory=list)


# The only event types `facts_for` counts (a replay reads no others; a test holds this true).
COUNTED_EVENT_TYPES = frozenset({
    "DossierFiled", "CheckoutStarted", "PaymentCaptured",
    "LateCaptureAccepted", "RefundIssued",
})  # fmt: skip


def _key(moment: datetime, unit: str, agency: str, procedure: str) -> MetricKey:
    return MetricKey(business_date(moment), unit, agency, procedure)


def facts_for(envelope: EventEnvelope, event: EventPayload) -> MetricFacts:
    """The counter increments, unit levels and payment timings one event contributes."""
    moment = envelope.occurred_at
    match event:
        case DossierFiled():
            online = event.channel == Channel.ONLINE
            counts = {"filed_online" if online else "filed_counter": 1}
            if event.fee.amount_minor > 0:
                counts["fee_bearing_filed"] = 1
            key = _key(moment, event.unit_code, event.agency_code, event.procedure_code)
            timings = [] if event.payment_id is None else [PaymentTiming(event.payment_id, moment)]
            return MetricFacts(
                [MetricDelta(key, counts)], {event.unit_code: event.administrative_level.value},
                timings,
            )  # fmt: skip
        case CheckoutStarted():
            key = _key(moment, event.unit_code, event.agency_code, event.procedure_code)
            return MetricFacts([MetricDelta(key, {"checkout_attempts": 1})])
        case PaymentCaptured() if not event.after_expiry:
            return _paid(
                event.payment_id, event.captured_at, event.method, event.amount.amount_minor,
                event.unit_code, event.agency_code, event.procedure_code,
            )  # fmt: skip
        case LateCaptureAccepted():
            return _paid(event.payment_id, moment, PaymentMethod.ONLINE_GATEWAY,
                         event.amount.amount_minor, event.unit_code, event.agency_code,
                         event.procedure_code)  # fmt: skip
        case RefundIssued():
            key = _key(moment, event.unit_code, event.agency_code, event.procedure_code)
            counts = {"refunds": 1, "refunds_minor": event.amount.amount_minor}
            return MetricFacts([MetricDelta(key, counts)])
    return MetricFacts()


def _paid(
    payment_id: UUID,
    moment: datetime,
    method: PaymentMethod,
    amount_minor: int,
    unit: str,
    agency: str,
    procedure: str,
) -> MetricFacts:
    online = method == PaymentMethod.ONLINE_GATEWAY
    counts = (
        {"paid_online": 1, "paid_online_minor": amount_minor}
        if online
        else {"paid_counter": 1, "paid_counter_minor": amount_minor}
    )
    key = _key(moment, unit, agency, procedure)
    return MetricFacts(
        [MetricDelta(key, counts)], timings=[PaymentTiming(payment_id, captured_at=moment, key=key)]
    )


def merge(deltas: list[MetricDelta]) -> dict[MetricKey, dict[str, int]]:
    """Sum the deltas of a batch per key, so a batch writes each row once."""
    totals: dict[MetricKey, dict[str, int]] = {}
    for delta in deltas:
        row = totals.get(delta.key)
        if row is None:
            row = totals[delta.key] = dict.fromkeys(COUNTERS, 0)
        for name, value in delta.counts.items():
            row[name] += value
    return totals


def rate(numerator: int, denominator: int) -> float | None:
    """A rate for display (a ratio, not money): None when there is nothing to divide by."""
    return None if denominator == 0 else numerator / denominator
