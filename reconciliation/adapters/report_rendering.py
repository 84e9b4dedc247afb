"""The day report as CSV (one flat table) and as a self-contained HTML page with two charts
(expected against settled; open exceptions by age), drawn as inline SVG: no scripts, no CDN."""

import csv
import html
import io

from schemas.api.reconciliation import DayReport

BAR_WIDTH_MAX = 520


def report_csv(report: DayReport) -> str:
    """section,name,count,amount_minor rows: a spreadsheet can pivot them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["bank_account", "business_date", "section", "name", "count", "amount_minor"])
    day = (report.bank_account, report.business_date.isoformat())
    rows = [
        ("status", report.status, "", ""),
        ("totals", "expected_gross", "", report.expected_gross_minor),
        ("totals", "expected_fee", "", report.expected_fee_minor),
        ("totals", "expected_net", "", report.expected_net_minor),
        ("totals", "settled", report.matched_line_count, report.settled_minor),
        ("totals", "bank_lines", report.line_count, ""),
        *(("stage", f"{s.stage}/{s.direction}", s.match_count, s.net_minor) for s in report.stages),
        *(("exceptions", e.kind, e.count, e.amount_minor) for e in report.exceptions_by_kind),
        *(("ageing", a.label, a.count, a.amount_minor) for a in report.ageing),
    ]
    writer.writerows((*day, *row) for row in rows)
    return out.getvalue()


def svg_bars(title: str, bars: list[tuple[str, int]], unit: str) -> str:
    top = max([value for _, value in bars] + [1])
    rows = []
    for index, (label, value) in enumerate(bars):
        width = round(BAR_WIDTH_MAX * value / top)
        y = 30 + index * 34
        rows.append(
            f'<text x="0" y="{y + 17}">{html.escape(label)}</text>'
            f'<rect x="170" y="{y}" width="{width}" height="24" fill="#2f6f9f"/>'
            f'<text x="{178 + width}" y="{y + 17}">{value:,} {unit}</text>'
        )
    height = 40 + 34 * len(bars)
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg width="900" height="{height}" font-size="13" role="img">{"".join(rows)}</svg>'
        "</figure>"
    )


def html_table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(report: DayReport) -> str:
    title = f"Reconciliation {report.bank_account} {report.business_date}"
    return page(title, report_body(report))


def report_body(report: DayReport) -> str:
    """The report's charts and tables, for its own page or inside a larger one."""
    totals = svg_bars(
        "Expected against settled (VND)",
        [
            ("expected gross", report.expected_gross_minor),
            ("gateway fees", report.expected_fee_minor),
            ("expected net", report.expected_net_minor),
            ("settled", report.settled_minor),
        ],
        "₫",
    )
    ageing = svg_bars(
        "Open exceptions by age (banking days)", [(a.label, a.count) for a in report.ageing], ""
    )
    stages = html_table(
        ["stage", "direction", "matches", "net (VND)", "fees (VND)"],
        [
            [s.stage, s.direction, s.match_count, f"{s.net_minor:,}", f"{s.fee_minor:,}"]
            for s in report.stages
        ],
    )
    exceptions = html_table(
        ["kind", "amount (VND)", "dated", "age", "detail"],
        [
            [e.kind, f"{e.amount_minor:,}", e.dated_on, e.age_banking_days, e.detail]
            for e in report.exceptions
        ],
    )
    runs = html_table(
        ["run", "rules", "results sha256", "by", "at"],
        [
            [r.run_id, r.rules_version, r.results_sha256[:16], r.run_by, r.completed_at]
            for r in report.runs
        ],
    )
    closed = f" (closed by {html.escape(report.closed_by)})" if report.closed_by else ""
    return (
        f"<p>Status: <b>{report.status}</b>{closed} · bank lines {report.line_count:,} · "
        f"matched {report.matched_line_count:,}</p>{totals}{ageing}<h2>Matches by stage</h2>"
        f"{stages}<h2>Open exceptions</h2>{exceptions}<h2>Runs</h2>{runs}"
    )


def page(title: str, body: str) -> str:
    """A self-contained page: inline style, no scripts, nothing fetched from elsewhere."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:4px 8px}}
figcaption{{font-weight:600;margin:1rem 0 .3rem}}</style></head><body>
<h1>{html.escape(title)}</h1>
{body}</body></html>
"""
