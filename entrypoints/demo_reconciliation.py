"""The demo's reconciliation step: the bank's files for the next banking day (camt.053 imported;
the same lines as MT940 and CSV beside it, as other banks send them), a matching run, the day
report on screen and as HTML."""

from datetime import date, datetime
from pathlib import Path

from rich.console import Console

from entrypoints.bootstrap import Runtime, build_reconciler
from entrypoints.recon_cli import print_report
from reconciliation.adapters.report_rendering import report_html
from reconciliation.adapters.statement_writers import camt053, generic_csv, mt940
from reconciliation.adapters.statements.csv_mapping import load_csv_mappings
from reconciliation.adapters.uploads import import_file
from reconciliation.domain.items import Expectations
from reconciliation.service import reports, runs
from reconciliation.service.context import Actor
from reconciliation.service.runs import start_of_next_day
from reconciliation.simulation import SimulatedBank, numbered
from schemas.api.reconciliation import DayReport
from schemas.events.reconciliation_v1 import SettlementLine, StatementFormat

DEMO_OFFICER = "finance:demo"


def write_bank_files(
    output: Path, lines: list[SettlementLine], account: str, day: date
) -> dict[str, Path]:
    output.mkdir(parents=True, exist_ok=True)
    files = {
        "camt053": output / f"statement-{account}-{day}.camt053.xml",
        "mt940": output / f"statement-{account}-{day}.mt940.sta",
        "csv": output / f"statement-{account}-{day}.csv",
    }
    files["camt053"].write_bytes(camt053(lines, f"STMT{day:%Y%m%d}", day))
    files["mt940"].write_bytes(mt940(lines, f"STMT{day:%Y%m%d}", account))
    files["csv"].write_bytes(generic_csv(lines))
    return files


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


async def reconcile_next_day(
    rt: Runtime, console: Console, output: Path, seed: int, payment_day: datetime
) -> DayReport:
    reconciler = build_reconciler(rt)
    actor = Actor(DEMO_OFFICER, reconciler.ids.next())
    calendar = reconciler.calendar
    day = calendar.add_banking_days(payment_day.date(), 1)
    following = calendar.add_banking_days(day, 1)
    rules = reconciler.rules_book.in_force_on(day)
    account = rules.accounts()[0]
    # The bank sends each settlement once: only what no earlier statement settled (a second demo
    # run on the same day gets a statement of its own payments, not the first run's again).
    as_of = await reconciler.read_model.catch_up()
    facts = await reconciler.read_model.open_items(start_of_next_day(payment_day.date()), as_of)
    expectations = Expectations(rules, calendar)
    items = [item for f in facts if (item := expectations(f)) is not None]
    bank_day = SimulatedBank(account, seed).day(day, following, items)
    lines = numbered(bank_day.lines)
    files = write_bank_files(output, lines, account, day)
    console.print(
        f"bank: {len(lines)} lines for {account} on {day} (gateway lumps net of fees, one line "
        "missing, one late, one booked twice, one unknown credit) written as "
        + ", ".join(str(path.relative_to(output.parent)) for path in files.values())
    )
    imported = await import_file(
        reconciler,
        actor,
        files["camt053"].read_bytes(),
        StatementFormat.CAMT053,
        file_name=files["camt053"].name,
        mapping_name=None,
        mappings=load_csv_mappings(),
    )
    console.print(f"import: {imported.line_count} lines, file {imported.file_id}")
    outcome = await runs.run_day(reconciler, actor, account, day)
    console.print(
        f"matching run {outcome.run_id} with rules {outcome.rules_version}: "
        f"{outcome.matched_line_count} lines matched, {outcome.exception_count} exceptions"
    )
    report = await reports.day_report(reconciler, account, day)
    print_report(report)
    html = output / f"reconciliation-{account}-{day}.html"
    write_text(html, report_html(report))
    console.print(f"report: {html}")
    return report
