"""Rich tables that the CLI and the demo both print."""

from collections.abc import Sequence

from rich.table import Table

from metrics.adapters.store import MetricRow


def rate_table(rows: Sequence[MetricRow], by: str) -> Table:
    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.2f}%"

    table = Table(title="Online filing and payment rates")
    columns = ("period", by, "filed online", "filed counter", "online filing", "paid online",
               "paid counter", "online payment", "payment success", "median to pay")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for row in rows:
        median = row.median_seconds_to_payment
        table.add_row(
            str(row.period),
            row.dimension,
            str(row.counts["filed_online"]),
            str(row.counts["filed_counter"]),
            percent(row.online_filing_rate),
            str(row.counts["paid_online"]),
            str(row.counts["paid_counter"]),
            percent(row.online_payment_rate),
            percent(row.payment_success_rate),
            "-" if median is None else f"{median / 60:.0f} min",
        )
    return table
