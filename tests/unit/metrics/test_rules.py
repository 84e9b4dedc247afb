"""Proves the metric rules: filings count by channel and fee, payments by method on the day they
were captured (Asia/Ho_Chi_Minh), checkouts as attempts, late money only once accepted, refunds;
and that the rates follow the formulas of docs/metrics.md."""

from metrics.adapters.store import MetricRow
from metrics.domain.rules import COUNTED_EVENT_TYPES, COUNTERS, MetricBatch, counted
from schemas.events.payments_v1 import DossierFiled, PaymentCaptured
from tests.unit.history import simulated_history


def test_a_simulated_day_counts_what_happened() -> None:
    history = simulated_history(400)
    batch = counted(history)
    summed = {name: sum(row[name] for row in batch.totals.values()) for name in COUNTERS}
    filed = [e for _, e in history if isinstance(e, DossierFiled)]
    assert summed["filed_online"] == sum(1 for e in filed if e.channel == "online")
    assert summed["filed_counter"] == sum(1 for e in filed if e.channel == "counter")
    assert summed["fee_bearing_filed"] == sum(1 for e in filed if e.fee.amount_minor > 0)
    captured = [e for _, e in history if isinstance(e, PaymentCaptured)]
    online_in_time = [e for e in captured if e.method == "online_gateway" and not e.after_expiry]
    late = [e for e in captured if e.after_expiry]
    assert summed["paid_counter"] == sum(1 for e in captured if e.method != "online_gateway")
    assert summed["paid_online"] == len(online_in_time) + len(late)  # the simulation accepts them
    assert summed["checkout_attempts"] >= summed["paid_online"] - len(late)
    opened = dict(batch.opened)
    assert len(opened) == len(batch.opened) == summed["fee_bearing_filed"]
    filings = {e.payment_id: envelope.occurred_at for envelope, e in history
               if isinstance(e, DossierFiled) and e.payment_id}  # fmt: skip
    assert opened == filings  # each payment's clock starts at its dossier's filing


def test_rates_follow_their_formulas() -> None:
    counts = dict.fromkeys(COUNTERS, 0) | {
        "filed_online": 736, "filed_counter": 264, "paid_online": 600, "paid_counter": 200,
        "checkout_attempts": 640,
    }  # fmt: skip
    row = MetricRow(period=None, dimension="all", counts=counts, median_seconds_to_payment=None)  # type: ignore[arg-type]
    assert row.online_filing_rate == 0.736
    assert row.online_payment_rate == 0.75
    assert row.payment_success_rate == 600 / 640
    empty = MetricRow(None, "all", dict.fromkeys(COUNTERS, 0), None)  # type: ignore[arg-type]
    assert empty.online_payment_rate is None


def test_only_the_declared_event_types_count() -> None:
    """A replay reads only COUNTED_EVENT_TYPES: no other event of a simulated day counts."""
    for envelope, event in simulated_history(120):
        if envelope.event_type not in COUNTED_EVENT_TYPES:
            assert counted([(envelope, event)]) == MetricBatch(), envelope.event_type
