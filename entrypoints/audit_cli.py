"""The auditor's commands: `fees replay`, `fees audit trail`, and state at a point in time
(`fees audit balance | payment | recon-day --at TIME`). All read-only on the live schema."""

import asyncio
import uuid
from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from entrypoints.audit_queries import balance_at, payment_at, position_at, trail
from entrypoints.bootstrap import build_reconciler, build_runtime, runtime
from entrypoints.recon_cli import print_report
from entrypoints.replay import (
    Difference,
    catch_up_live_reconciliation,
    compare,
    drop_schema,
    replay_pool,
    replay_store,
)
from entrypoints.replay_kafka import replay_topics
from entrypoints.settings import Settings, load_settings
from entrypoints.terminal import console, progress_bar
from reconciliation.service import reports

At = Annotated[
    datetime | None,
    typer.Option("--at", help="An instant with its zone, e.g. 2026-11-25T17:00:00+07:00."),
]


def _aware(instant: datetime | None) -> datetime | None:
    if instant is not None and instant.tzinfo is None:
        raise typer.BadParameter("--at needs a zone offset, e.g. +07:00")
    return instant


def replay_schema_name() -> str:
    return f"replay_{uuid.uuid4().hex[:10]}"


async def _replay(settings: Settings, to_position: int | None, instant: datetime | None,
                  keep: bool) -> int:  # fmt: skip
    async with runtime(settings) as rt:
        target = to_position if to_position is not None else await position_at(rt.store, instant)
        await catch_up_live_reconciliation(settings, rt.pool)
        schema = replay_schema_name()
        try:
            async with replay_pool(settings, schema) as pool:
                with progress_bar("replaying") as progress:
                    task = progress.add_task("events", total=target)
                    count = await replay_store(
                        settings, schema, target, lambda done: progress.update(task, completed=done)
                    )
                differences = await compare(rt.pool, pool)
        finally:
            if not keep:  # a failed replay's partial schema goes too
                await drop_schema(settings, schema)
    console.print(f"replayed {count:,} events (positions 1..{target:,}) into schema {schema}"
                  + ("" if keep else " (dropped)"))  # fmt: skip
    return _show_differences(differences, "ledger, metrics and reconciliation")


def _show_differences(differences: list[Difference], what: str) -> int:
    if not differences:
        console.print(f"[green]replay equals live[/green]: {what}")
        return 0
    table = Table(title="differences (live vs replayed)")
    for column in ("projection", "key", "field", "live", "replayed"):
        table.add_column(column)
    for d in differences:
        key = " / ".join(map(str, d.key))
        table.add_row(d.projection, key, d.field, str(d.live), str(d.replayed))
    console.print(table)
    return 1


def replay_command(
    to_position: Annotated[int | None, typer.Option(help="Replay up to this position.")] = None,
    at: At = None,
    keep: Annotated[bool, typer.Option(help="Keep the replay schema to query it.")] = False,
) -> None:
    """Rebuild every projection from the event store into a new schema; compare with live.

    Up to a position or a time (default: everything); prints every difference from the live
    ledger, metrics and reconciliation and exits 1 when there is one. With --to-position/--at the
    live projections hold later events too, so differences there are expected."""
    code = asyncio.run(_replay(load_settings(), to_position, _aware(at), keep))
    raise typer.Exit(code)


def trail_command(
    kind: Annotated[str, typer.Argument(help="payment or dossier")], identifier: uuid.UUID
) -> None:
    """The full ordered history of a payment or a dossier, with actors and correlation."""
    if kind not in ("payment", "dossier"):
        raise typer.BadParameter("kind is payment or dossier")

    async def work() -> None:
        async with runtime(load_settings()) as rt:
            entries = await trail(rt.store, rt.pool, kind, identifier)
        table = Table(title=f"audit trail of {kind} {identifier}")
        for column in ("position", "recorded at (UTC)", "stream", "v", "event", "actor",
                       "correlation", "causation", "details"):  # fmt: skip
            table.add_column(column)
        for e in entries:
            table.add_row(str(e.position), f"{e.recorded_at:%Y-%m-%d %H:%M:%S}", e.stream_id[:22],
                          str(e.stream_version), e.event_type, e.actor, str(e.correlation_id)[:8],
                          str(e.causation_id)[:8] if e.causation_id else "", e.summary)  # fmt: skip
        console.print(table)
        if not entries:
            raise typer.Exit(1)

    asyncio.run(work())


def balance_command(account: Annotated[str, typer.Argument(help="e.g. BANK:0011001234567")],
                    at: At = None) -> None:  # fmt: skip
    """An account's balance (debits minus credits) as the events recorded by --at say."""

    async def work() -> None:
        async with runtime(load_settings()) as rt:
            position = await position_at(rt.store, _aware(at))
            balance, postings = await balance_at(rt.pool, account, position)
        console.print(f"{account} at position {position:,}: {balance:,} VND ({postings} postings)")

    asyncio.run(work())


def payment_command(payment_id: uuid.UUID, at: At = None) -> None:
    """A payment's state as its events recorded by --at say."""

    async def work() -> None:
        async with runtime(load_settings()) as rt:
            position = await position_at(rt.store, _aware(at))
            state = await payment_at(rt.store, rt.registry, payment_id, position)
        if state is None:
            console.print(f"payment {payment_id} did not exist at position {position:,}")
            raise typer.Exit(1)
        console.print(
            f"payment {payment_id} at position {position:,}: {state.status.value}, due "
            f"{state.due_minor:,}, captured {state.captured_minor:,}, refunded "
            f"{state.refunded_minor:,} VND, receipt {state.receipt_number or '-'}"
        )

    asyncio.run(work())


def recon_day_command(
    account: str, day: Annotated[str, typer.Argument(help="YYYY-MM-DD")], at: At = None
) -> None:
    """A day's reconciliation as it stood at --at.

    Replayed up to that time into a scratch schema, reported from there, then dropped."""

    async def work() -> None:
        settings = load_settings()
        schema = replay_schema_name()
        async with runtime(settings) as rt:
            position = await position_at(rt.store, _aware(at))
            async with replay_pool(settings, schema) as pool:
                await replay_store(settings, schema, position)
                scratch = build_runtime(
                    settings.model_copy(update={"database_schema": schema}), pool
                )
                report = await reports.day_report(
                    build_reconciler(scratch), account, date.fromisoformat(day)
                )
        await drop_schema(settings, schema)
        console.print(f"as of position {position:,}")
        print_report(report)

    asyncio.run(work())


async def _replay_kafka(settings: Settings, from_offset: int | None,
                        instant: datetime | None, keep: bool) -> int:  # fmt: skip
    schema = replay_schema_name()
    timestamp_ms = None if instant is None else int(instant.timestamp() * 1000)
    async with runtime(settings) as rt, replay_pool(settings, schema) as pool:
        with progress_bar("replaying") as progress:
            task = progress.add_task("records", total=None)
            count = await replay_topics(
                settings,
                rt.router.topics(),
                pool,
                from_offset=from_offset,
                from_timestamp_ms=timestamp_ms,
                advance=lambda done: progress.update(task, completed=done),
            )
        differences = [
            d for d in await compare(rt.pool, pool) if d.projection in ("ledger", "metrics")
        ]
    if not keep:
        await drop_schema(settings, schema)
    console.print(f"consumed {count:,} records with a new consumer group into schema {schema}")
    return _show_differences(differences, "ledger and metrics")


def replay_kafka_command(
    from_offset: Annotated[int | None, typer.Option(help="Start every partition here.")] = None,
    from_time: At = None,
    keep: Annotated[bool, typer.Option(help="Keep the replay schema to query it.")] = False,
) -> None:
    """Rebuild the ledger and metrics from the Kafka topics with a fresh consumer group.

    From an offset (default 0) or the first record at or after a time, into a new schema;
    then compared with the live ledger and metrics (exit 1 on a difference)."""
    code = asyncio.run(_replay_kafka(load_settings(), from_offset, _aware(from_time), keep))
    raise typer.Exit(code)
