"""The demo's closing page: the day's online rates per administrative level and unit, the
reconciliation of the next banking day, the trial balance, and the audit verdicts, as one
self-contained HTML file with charts (inline SVG)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ledger.adapters.journal import AccountTotals
from metrics.adapters.store import MetricRow
from reconciliation.adapters.report_rendering import html_table, page, report_body, svg_bars
from schemas.api.reconciliation import DayReport

UNITS_SHOWN_MAX = 20


@dataclass(frozen=True)
class AuditVerdicts:
    chain_intact: bool
    chain_events: int
    head_hash_hex: str
    replay_differences: int


def _percent(value: float | None) -> int:
    return 0 if value is None else round(value * 100)


def _rates(rows: Sequence[MetricRow]) -> str:
    return html_table(
        ["level / unit", "filed online", "filed counter", "online filing", "paid online",
         "paid counter", "online payment", "payment success"],
        [[r.dimension, r.counts["filed_online"], r.counts["filed_counter"],
          f"{_percent(r.online_filing_rate)}%", r.counts["paid_online"], r.counts["paid_counter"],
          f"{_percent(r.online_payment_rate)}%", f"{_percent(r.payment_success_rate)}%"]
         for r in rows],
    )  # fmt: skip


def demo_report_html(
    day: date, levels: Sequence[MetricRow], units: Sequence[MetricRow], reconciliation: DayReport,
    trial_balance: Sequence[AccountTotals], verdicts: AuditVerdicts,
) -> str:  # fmt: skip
    busiest = sorted(units, key=lambda r: -(r.counts["filed_online"] + r.counts["filed_counter"]))
    chain = "intact" if verdicts.chain_intact else "BROKEN"
    replay = "equals live" if verdicts.replay_differences == 0 else (
        f"{verdicts.replay_differences} differences")  # fmt: skip
    body = "".join([
        f"<p>Hash chain <b>{chain}</b> over {verdicts.chain_events:,} events (head "
        f"{verdicts.head_hash_hex[:16]}…); replay of every projection <b>{replay}</b>.</p>",
        "<h2>Online filing and payment rates</h2>",
        svg_bars("Online filing rate by level (%)",
                 [(r.dimension, _percent(r.online_filing_rate)) for r in levels], "%"),
        svg_bars("Online payment rate by level (%)",
                 [(r.dimension, _percent(r.online_payment_rate)) for r in levels], "%"),
        _rates(levels),
        f"<h3>The {UNITS_SHOWN_MAX} busiest units</h3>",
        _rates(busiest[:UNITS_SHOWN_MAX]),
        f"<h2>Reconciliation of {reconciliation.bank_account} on {reconciliation.business_date}"
        "</h2>",
        report_body(reconciliation),
        "<h2>Trial balance (VND)</h2>",
        html_table(["account", "debit", "credit"],
                   [[t.account_code, f"{t.debit_minor:,}", f"{t.credit_minor:,}"]
                    for t in trial_balance]),
    ])  # fmt: skip
    return page(f"Province fees: the working day {day}", body)
