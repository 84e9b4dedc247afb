"""`fees recon …`: the finance officer's day on the command line (import, run, decide, close,
report) and the auditor's proof that a past run is reproducible."""

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from entrypoints.auth import TokenService
from entrypoints.bootstrap import build_reconciler, runtime
from entrypoints.settings import Settings, load_settings
from entrypoints.terminal import console
from reconciliation.adapters.report_rendering import report_csv, report_html
from reconciliation.adapters.statements import StatementError
from reconciliation.adapters.statements.csv_mapping import load_csv_mappings
from reconciliation.adapters.uploads import import_file
from reconciliation.domain.errors import ReconciliationError
from reconciliation.service import decisions, reports, runs
from reconciliation.service.context import Actor
from schemas.api.auth import Role
from schemas.api.reconciliation import DayReport
from schemas.events.reconciliation_v1 import DecisionKind, StatementFormat
from schemas.time import business_date

recon_app = typer.Typer(
    help="Bank settlement reconciliation: import, match, resolve, close, report.",
    no_args_is_help=True,
)
OfficerToken = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="FEES_TOKEN",
        show_default=False,
        help="Your bearer token as a finance officer (FEES_TOKEN; `fees token finance lan` "
        "prints one locally). The acting officer is the one the token names.",
    ),
]
Account = Annotated[str, typer.Argument(help="The bank account number, e.g. 0011001234567.")]
Day = Annotated[str, typer.Argument(help="The business day, YYYY-MM-DD (Asia/Ho_Chi_Minh).")]


def officer_of(token: str, settings: Settings) -> Actor:
    """The finance officer a signed token names. The CLI takes no name on trust, so the checker
    of a decision is a different person here exactly as in the API (maker-checker)."""
    try:
        principal = TokenService.from_settings(settings).verify(token)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--token") from None
    if principal.role != Role.FINANCE:
        raise typer.BadParameter(
            f"reconciliation work is for finance officers, not for the {principal.role} "
            "this token names",
            param_hint="--token",
        )
    return Actor(principal.actor, uuid.uuid4())


def _actor(token: str) -> Actor:
    return officer_of(token, load_settings())


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a YYYY-MM-DD date") from None


async def _with_reconciler(settings: Settings, work):  # type: ignore[no-untyped-def]
    async with runtime(settings) as rt:
        return await work(build_reconciler(rt))


def _run(work) -> None:  # type: ignore[no-untyped-def]
    """Run against the configured database; rule violations print one line and exit 1."""
    import asyncio

    try:
        asyncio.run(_with_reconciler(load_settings(), work))
    except (ReconciliationError, StatementError, ValidationError) as error:
        console.print(f"[red]refused[/red]: {error}")
        raise typer.Exit(1) from error


@recon_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    statement_format: Annotated[StatementFormat, typer.Option("--format")],
    token: OfficerToken,
    mapping: Annotated[str | None, typer.Option(help="CSV column mapping (csv only).")] = None,
) -> None:
    """Import a bank statement file: all of it or nothing; the same file twice is a no-op."""
    settings = load_settings()
    actor = officer_of(token, settings)
    mappings = load_csv_mappings(settings.recon_csv_mappings_file)
    content = path.read_bytes()

    async def work(reconciler):  # type: ignore[no-untyped-def]
        with console.status(f"reading {path.name}…"):
            outcome = await import_file(
                reconciler,
                actor,
                content,
                statement_format,
                file_name=path.name,
                mapping_name=mapping,
                mappings=mappings,
            )
        verb = "already imported as" if outcome.already_imported else "imported as"
        console.print(f"{path.name}: {outcome.line_count:,} lines {verb} file {outcome.file_id}")

    _run(work)


@recon_app.command("run")
def run_command(account: Account, day: Day, token: OfficerToken) -> None:
    """Match the account's business day automatically; prints the run's fingerprint."""
    actor = _actor(token)

    async def work(reconciler):  # type: ignore[no-untyped-def]
        with console.status("matching…"):
            outcome = await runs.run_day(reconciler, actor, account, _day(day))
        console.print(
            f"run {outcome.run_id} ({outcome.rules_version}): {outcome.matched_line_count:,} "
            f"lines matched in {outcome.match_count:,} matches, "
            f"{outcome.exception_count:,} exceptions; results sha256 {outcome.results_sha256}"
        )

    _run(work)


@recon_app.command("verify-run")
def verify_run_command(run_id: uuid.UUID) -> None:
    """Re-run a past run from the read model as it stood then, with its rules: same hashes?"""
    verdict: list[bool] = []

    async def work(reconciler):  # type: ignore[no-untyped-def]
        check = await runs.verify_run(reconciler, run_id)
        verdict.append(check.identical)
        colour = "green" if check.identical else "red"
        console.print(
            f"[{colour}]{'identical' if check.identical else 'DIFFERENT'}[/{colour}]: results "
            f"{check.recorded_results_sha256} recorded, {check.recomputed_results_sha256} "
            f"recomputed"
        )

    _run(work)
    raise typer.Exit(0 if verdict and verdict[0] else 1)


@recon_app.command("decide")
def decide_command(
    account: Account,
    day: Day,
    token: OfficerToken,
    kind: Annotated[DecisionKind, typer.Option()],
    line: Annotated[list[str], typer.Option(help="Bank line key(s) <file id>:<line no>.")],
    reason: Annotated[str, typer.Option(help="Why (mandatory, kept in the event).")],
    item: Annotated[list[uuid.UUID] | None, typer.Option(help="Payment/refund id(s).")] = None,
) -> None:
    """Manual match, split, write-off or unmatch; above the limit it waits for approval."""
    request = decisions.DecisionRequest(kind, line, item or [], reason)
    actor = _actor(token)

    async def work(reconciler):  # type: ignore[no-untyped-def]
        outcome = await decisions.propose(reconciler, actor, account, _day(day), request)
        console.print(f"decision {outcome.decision_id}: {outcome.status}")

    _run(work)


Reason = Annotated[str, typer.Option(help="Why (mandatory, kept in the event).")]


def _settle_pending(action, account: str, day: str, decision_id: uuid.UUID,  # type: ignore[no-untyped-def]
                    token: str, reason: str) -> None:  # fmt: skip
    """Approve or reject a pending decision: the checker's side of maker-checker."""
    actor = _actor(token)

    async def work(reconciler):  # type: ignore[no-untyped-def]
        outcome = await action(reconciler, actor, account, _day(day), decision_id, reason)
        console.print(f"decision {outcome.decision_id}: {outcome.status}")

    _run(work)


@recon_app.command("approve")
def approve_command(
    account: Account, day: Day, decision_id: uuid.UUID, token: OfficerToken, reason: Reason
) -> None:
    """Approve another officer's pending decision (maker-checker)."""
    _settle_pending(decisions.approve, account, day, decision_id, token, reason)


@recon_app.command("reject")
def reject_command(
    account: Account, day: Day, decision_id: uuid.UUID, token: OfficerToken, reason: Reason
) -> None:
    """Reject another officer's pending decision; nothing of it takes effect."""
    _settle_pending(decisions.reject, account, day, decision_id, token, reason)


@recon_app.command("close")
def close_command(account: Account, day: Day, token: OfficerToken) -> None:
    """Close (lock) the day."""
    actor = _actor(token)

    async def work(reconciler):  # type: ignore[no-untyped-def]
        await decisions.close_day(reconciler, actor, account, _day(day))
        console.print(f"{account} {day}: closed")

    _run(work)


@recon_app.command("reopen")
def reopen_command(
    account: Account, day: Day, token: OfficerToken, reason: Annotated[str, typer.Option()]
) -> None:
    """Reopen a closed day (an auditable event with its reason)."""
    actor = _actor(token)

    async def work(reconciler):  # type: ignore[no-untyped-def]
        await decisions.reopen_day(reconciler, actor, account, _day(day), reason)
        console.print(f"{account} {day}: reopened")

    _run(work)


def print_report(report: DayReport) -> None:
    table = Table(title=f"Reconciliation {report.bank_account} {report.business_date}")
    table.add_column("figure")
    table.add_column("count", justify="right")
    table.add_column("VND", justify="right")
    table.add_row("status", report.status, report.closed_by or "")
    table.add_row("expected gross", "", f"{report.expected_gross_minor:,}")
    table.add_row("gateway fees", "", f"{report.expected_fee_minor:,}")
    table.add_row("expected net", "", f"{report.expected_net_minor:,}")
    table.add_row("settled", f"{report.matched_line_count:,}", f"{report.settled_minor:,}")
    for stage in report.stages:
        table.add_row(
            f"  {stage.stage} ({stage.direction})", f"{stage.match_count:,}", f"{stage.net_minor:,}"
        )
    for kind in report.exceptions_by_kind:
        table.add_row(f"exception: {kind.kind}", f"{kind.count:,}", f"{kind.amount_minor:,}")
    console.print(table)


@recon_app.command("exceptions")
def exceptions_command(account: Account) -> None:
    """The exception queue: every open exception of the account, oldest first, with its age."""

    async def work(reconciler):  # type: ignore[no-untyped-def]
        today = business_date(reconciler.clock.now())
        queue = await reports.exception_queue(reconciler, account, today)
        table = Table(title=f"Open exceptions of {account} ({len(queue)})")
        for column in ("day", "kind", "VND", "dated", "age", "detail"):
            table.add_column(column)
        for e in queue:
            table.add_row(str(e.business_date), e.kind, f"{e.amount_minor:,}", str(e.dated_on),
                          str(e.age_banking_days), e.detail)  # fmt: skip
        console.print(table)

    _run(work)


@recon_app.command("report")
def report_command(
    account: Account,
    day: Day,
    output_format: Annotated[
        str, typer.Option("--format", help="table, json, csv or html")
    ] = "table",
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """The day report: expected against settled, matches by stage, exceptions by kind and age."""
    renderers = {
        "json": lambda r: json.dumps(r.model_dump(mode="json"), indent=2, ensure_ascii=False),
        "csv": report_csv,
        "html": report_html,
    }
    if output_format not in {*renderers, "table"}:
        raise typer.BadParameter("--format is table, json, csv or html")

    async def work(reconciler):  # type: ignore[no-untyped-def]
        report = await reports.day_report(reconciler, account, _day(day))
        if output_format == "table":
            print_report(report)
            return
        text = renderers[output_format](report)
        if output is None:
            console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}")

    _run(work)
