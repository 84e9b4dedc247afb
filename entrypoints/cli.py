"""The one command-line interface: `fees --help`.

Every command reads its configuration from FEES_* variables (see entrypoints/settings.py).
"""

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from entrypoints import audit_cli, evidence_cli
from entrypoints.bootstrap import all_migrations, create_pool, runtime, topic_specs
from entrypoints.logging import configure_logging
from entrypoints.recon_cli import recon_app
from entrypoints.settings import REPOSITORY_ROOT, Settings, load_settings
from entrypoints.terminal import console, progress_bar, run_command
from events.gc_pause import tune_collector_for_service
from events.kafka.producer import create_producer
from events.kafka.relay import OutboxRelay
from events.kafka.topics import ensure_topics
from events.store.migrations import apply_migrations
from events.store.verify import verify_chain
from schemas.api.auth import Role
from schemas.jsonschema_files import JSONSCHEMA_DIRECTORY, render_all

app = typer.Typer(
    help="Province fee payments: event store, outbox relay, audit.", no_args_is_help=True
)
audit_app = typer.Typer(
    help="Prove that the recorded history was not altered.", no_args_is_help=True
)
schemas_app = typer.Typer(help="JSON Schema files of the event contracts.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(schemas_app, name="schemas")


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


@app.command()
def migrate() -> None:
    """Apply the database migrations that are not applied yet (safe to run again)."""

    async def command() -> int:
        settings = _settings()
        pool = await create_pool(settings)
        try:
            async with pool.acquire() as connection:
                applied = await apply_migrations(connection, all_migrations())
        finally:
            await pool.close()
        console.print(
            f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}"
        )
        return 0

    run_command(command())


@app.command()
def topics() -> None:
    """Create the Kafka topics (explicit partitions, history kept) if they are missing."""

    async def command() -> int:
        settings = _settings()
        created = await ensure_topics(settings.kafka_bootstrap_servers, topic_specs(settings))
        console.print(f"topics created: {', '.join(created) if created else 'none (all exist)'}")
        return 0

    run_command(command())


@app.command()
def relay(
    once: Annotated[bool, typer.Option(help="Publish what is pending, then exit.")] = False,
    batch_max: Annotated[int | None, typer.Option(help="Events per Kafka round trip.")] = None,
) -> None:
    """Publish the event store to Kafka (the transactional-outbox relay); stops on SIGTERM."""

    async def command() -> int:
        settings = _settings()
        tune_collector_for_service()
        async with runtime(settings) as rt:
            producer = create_producer(
                settings.kafka_bootstrap_servers, f"relay-{settings.relay_name}"
            )
            await producer.start()
            try:
                outbox = OutboxRelay(
                    rt.pool,
                    rt.store,
                    producer,
                    rt.router,
                    relay_name=settings.relay_name,
                    batch_max=batch_max or settings.relay_batch_max,
                )
                if once:
                    total = 0
                    while published := await outbox.relay_once():
                        total += published
                    console.print(f"published {total} events")
                    return 0
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signal_number in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signal_number, stop.set)
                await outbox.run(stop, poll_interval_s=settings.relay_poll_interval_s)
            finally:
                await producer.stop()
        return 0

    run_command(command())


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 0 if intact, 1 with the first altered position if not."""

    async def command() -> int:
        settings = _settings()
        async with runtime(settings) as rt:
            with progress_bar("{task.description}", Console(stderr=True)) as progress:
                task = progress.add_task("verifying chain", total=None)

                def advance(checked: int, total: int) -> None:
                    progress.update(task, completed=checked, total=total)

                report = await verify_chain(rt.store, on_progress=advance)
        finding = report.finding
        if finding is None:
            console.print(
                f"[green]intact[/green]: {report.checked_count} events, head position "
                f"{report.head_position}, head hash {report.head_hash_hex}"
            )
            return 0
        console.print(
            f"[red]TAMPERED[/red] at position {finding.position} "
            f"({finding.problem}): {finding.detail}"
        )
        return 1

    run_command(command())


# Signed daily checkpoints and audit packages an outsider verifies (docs/audit.md).
audit_app.command("checkpoint")(evidence_cli.checkpoint_command)
audit_app.command("verify-checkpoints")(evidence_cli.verify_checkpoints_command)
audit_app.command("public-key")(evidence_cli.public_key_command)
audit_app.command("generate-key")(evidence_cli.generate_key_command)
audit_app.command("export")(evidence_cli.export_command)
audit_app.command("verify-package")(evidence_cli.verify_package_command)


@schemas_app.command("write")
def schemas_write() -> None:
    """Regenerate schemas/jsonschema/ from the pydantic models."""
    root = REPOSITORY_ROOT / JSONSCHEMA_DIRECTORY
    for relative, text in render_all().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    console.print(f"wrote {len(render_all())} files under {Path(JSONSCHEMA_DIRECTORY)}")


@app.command()
def demo(
    dossiers: Annotated[int, typer.Option(min=1, max=1_000_000, help="Simulated dossiers.")] = 2000,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: a fresh one).")] = None,
    via_gateway: Annotated[
        int, typer.Option(min=0, max=10_000, help="Online payments through the sandbox, over HTTP.")
    ] = 40,
) -> None:
    """A simulated working day end to end: payments, Kafka, ledger, reconciliation, audit."""
    from entrypoints.demo import run_demo  # the demo pulls in more than other commands need

    run_command(
        run_demo(_settings(), console, dossier_count=dossiers, seed=seed, via_gateway=via_gateway)
    )


@app.command()
def serve(
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI at /docs) on FEES_HTTP_HOST:FEES_HTTP_PORT."""
    import uvicorn

    settings = _settings()
    uvicorn.run(
        "entrypoints.http:app_from_environment",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
    )


@app.command()
def token(
    role: Annotated[Role, typer.Argument(help="citizen, clerk, finance or auditor")],
    subject: Annotated[str, typer.Argument(help="CCCD number, or staff id")],
    unit: Annotated[str | None, typer.Option(help="a clerk's one-stop-shop unit code")] = None,
) -> None:
    """Print a bearer token signed with FEES_AUTH_TOKEN_SECRET (for local use and demos)."""
    from datetime import UTC, datetime

    from entrypoints.auth import TokenService
    from schemas.api.auth import Principal

    if role == Role.SYSTEM:
        raise typer.BadParameter("the system role is the service itself; no token names it")
    tokens = TokenService.from_settings(_settings())
    principal = Principal(subject=subject, role=role, unit_code=unit)
    console.print(tokens.issue(principal, datetime.now(UTC)), soft_wrap=True)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(context: typer.Context) -> None:
    """Run a Faust worker (ledger and metrics agents); extra options go to Faust."""
    from entrypoints.worker import main as worker_main

    _settings()
    tune_collector_for_service()
    worker_main(list(context.args) or None)


ledger_app = typer.Typer(help="The double-entry ledger (read-only).", no_args_is_help=True)
metrics_app = typer.Typer(help="Online-payment-rate metrics (read-only).", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(recon_app, name="recon")
app.command("replay")(audit_cli.replay_command)
app.command("replay-kafka")(audit_cli.replay_kafka_command)
audit_app.command("trail")(audit_cli.trail_command)
audit_app.command("balance")(audit_cli.balance_command)
audit_app.command("payment")(audit_cli.payment_command)
audit_app.command("recon-day")(audit_cli.recon_day_command)
app.add_typer(metrics_app, name="metrics")


@ledger_app.command("trial-balance")
def ledger_trial_balance(
    as_of: Annotated[
        str | None, typer.Option(help="Business day YYYY-MM-DD (default: all).")
    ] = None,
) -> None:
    """Debits and credits per account; exits 1 if they do not balance."""
    from datetime import date

    from rich.table import Table

    from ledger.adapters.journal import Journal

    async def command() -> int:
        settings = _settings()
        pool = await create_pool(settings)
        try:
            totals = await Journal(pool).trial_balance(date.fromisoformat(as_of) if as_of else None)
        finally:
            await pool.close()
        table = Table(title=f"Trial balance{' as of ' + as_of if as_of else ''} (VND)")
        for column in ("account", "kind", "debit", "credit", "balance"):
            table.add_column(column, justify="left" if column in ("account", "kind") else "right")
        for t in totals:
            table.add_row(t.account_code, t.kind.value, f"{t.debit_minor:,}", f"{t.credit_minor:,}",
                          f"{t.balance_minor:,}")  # fmt: skip
        debit, credit = sum(t.debit_minor for t in totals), sum(t.credit_minor for t in totals)
        table.add_row("TOTAL", "", f"{debit:,}", f"{credit:,}", f"{debit - credit:,}")
        console.print(table)
        return 0 if debit == credit else 1

    run_command(command())


@metrics_app.command("report")
def metrics_report(
    first_day: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    last_day: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    by: Annotated[str, typer.Option(help="all, level, unit, agency or procedure")] = "level",
    period: Annotated[str, typer.Option(help="day or month")] = "day",
) -> None:
    """Dossiers filed and paid, and the online rates, per period and dimension."""
    from datetime import date
    from typing import get_args

    from metrics.adapters.store import Dimension, MetricsQueries, Period, ReportTooLargeError

    if by not in get_args(Dimension):
        raise typer.BadParameter(f"one of {', '.join(get_args(Dimension))}", param_hint="--by")
    if period not in get_args(Period):
        raise typer.BadParameter(f"one of {', '.join(get_args(Period))}", param_hint="--period")

    async def command() -> int:
        settings = _settings()
        pool = await create_pool(settings)
        try:
            rows = await MetricsQueries(pool).report(
                date.fromisoformat(first_day),
                date.fromisoformat(last_day),
                by,  # type: ignore[arg-type]  # checked above
                period,  # type: ignore[arg-type]
            )
        except ReportTooLargeError as error:
            console.print(f"[red]refused[/red]: {error}")
            return 2
        finally:
            await pool.close()
        from entrypoints.tables import rate_table

        console.print(rate_table(rows, by))
        return 0

    run_command(command())


def main() -> None:
    app(prog_name="fees")


if __name__ == "__main__":
    main()
