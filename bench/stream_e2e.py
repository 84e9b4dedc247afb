"""Benchmark (issue #4): payment events from append to ledger and metrics, end to end.

A seeded simulation produces about 200,000 payment events (built before timing). They are appended
at a steady offered rate, in batches of 40 dossiers' events, while the outbox relay (`fees relay`)
and Faust workers (`fees worker`) run as their own processes, on a fresh schema, fresh topics and
a fresh consumer group. The default rate is 12,000 events/s: offering exactly the 10,000/s target
could never measure 10,000/s end to end, since the clock runs until the last event is applied.
`--rate 1000000` appends as fast as the store takes them. Measured:

- e2e_events_per_s: events / (first append -> ledger and metrics consumers both at the head)
- e2e_lag_p99_ms: p99 over journal entries of (entry posted - event recorded in the store)

    .venv/bin/python bench/stream_e2e.py [--events 200000] [--rate 12000] [--workers 2]
    .venv/bin/python bench/stream_e2e.py --backlog   # the workers alone: backlog_events_per_s
"""

import argparse
import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from cpu import cpu_s, server_cpu_s  # bench/cpu.py, beside this one
from scratch import clean_up, prepare, scratch_settings

from entrypoints.bootstrap import Runtime, runtime
from events.kafka.reading import end_offsets
from events.store.ports import AppendRequest
from events.streaming.consumers import applied_positions, lagging_partitions
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.simulation import Simulation

ROOT = Path(__file__).resolve().parents[1]
START_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
EVENTS_PER_DOSSIER = 5.0  # about, in the simulation's mix
CATCH_UP_TIMEOUT_S = 600.0
TICK_S = 0.1


def build(event_target: int, seed: int) -> list[list[AppendRequest]]:
    simulation = Simulation(load_fee_schedule(), load_units(), seed=seed, start_at=START_AT)
    batches = list(simulation.batches(int(event_target / EVENTS_PER_DOSSIER), 40))
    return batches


def start(arguments: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", *arguments], cwd=ROOT, env=environment,
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def offered_load(store: object, batches: list[list[AppendRequest]], rate: int) -> None:
    """Append at about `rate` events/s: each tick appends what the schedule says is due."""
    sent, started = 0, time.perf_counter()
    pending = iter(batches)
    for batch in pending:
        await store.append_batch(batch)  # type: ignore[attr-defined]
        sent += sum(len(request.events) for request in batch)
        ahead_s = sent / rate - (time.perf_counter() - started)
        if ahead_s > 0:
            await asyncio.sleep(ahead_s)


async def relayed(pool: asyncpg.Pool, head: int) -> bool:
    published = await pool.fetchval("SELECT max(last_position) FROM relay_checkpoints")
    return published == head


async def caught_up(pool: asyncpg.Pool, ends: dict[tuple[str, int], int]) -> bool:
    """Both consumers have applied every partition up to its last record (not only the
    partition that holds the highest position)."""
    return not any([
        await lagging_partitions(pool, "ledger", ends),
        await lagging_partitions(pool, "metrics", ends),
    ])  # fmt: skip


async def lag_p99_ms(pool: asyncpg.Pool) -> float:
    async with pool.acquire() as connection:
        value = await connection.fetchval(
            "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY "
            "extract(epoch FROM j.posted_at - e.recorded_at)) "
            "FROM journal_entries j JOIN events e USING (event_id)"
        )
    return float(value) * 1000


def cpu_report(
    before: dict[str, float], after: dict[str, float], events: int, since: str = "first append"
) -> str:
    parts = [
        f"{name} {after[name] - before[name]:.1f} s "
        f"({(after[name] - before[name]) / events * 1e6:.0f} us/event)"
        for name in after
    ]
    return f"cpu from {since} to caught up: " + ", ".join(parts)


def cpu_now(processes: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    return {
        "relay": cpu_s(processes[0].pid),
        "workers": sum(cpu_s(process.pid) for process in processes[1:]),
        "appender": time.process_time(),
        "postgres": server_cpu_s(b"postgres"),
        "kafka": server_cpu_s(b"kafka.Kafka"),
    }


async def run(arguments: argparse.Namespace) -> None:
    settings = scratch_settings("bench_e2e")
    settings = settings.model_copy(update={"stream_app_id": f"bench-{settings.database_schema}"})
    print(f"building ~{arguments.events} simulated events ...", flush=True)
    batches = build(arguments.events, seed=5)
    total = sum(len(request.events) for batch in batches for request in batch)
    gc.freeze()  # the prebuilt history stays in memory; keep the GC from rescanning it
    await prepare(settings)
    # A stopped worker sends no heartbeats: in --backlog its session must outlast the appending
    # (and Faust refuses one longer than its 90 s request timeout).
    session_timeout_s = "60" if arguments.backlog else "10"
    environment = {
        **os.environ, "FEES_DATABASE_SCHEMA": settings.database_schema,
        "FEES_TOPIC_PAYMENTS_EVENTS": settings.topic_payments_events,
        "FEES_TOPIC_RECONCILIATION_EVENTS": settings.topic_reconciliation_events,
        "FEES_STREAM_APP_ID": settings.stream_app_id,
        "FEES_STREAM_SESSION_TIMEOUT_S": session_timeout_s,
        "FEES_STREAM_HEARTBEAT_INTERVAL_S": "1", "FEES_STREAM_REBALANCE_TIMEOUT_S": "10",
        "FEES_STREAM_RECOVERY_DELAY_S": "0", "FEES_LOG_LEVEL": "warning",
    }  # fmt: skip
    logs = ROOT / ".stack" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes = [start(["relay"], environment, logs / "bench-relay.log")]
    processes += [
        start(["worker", "--loglevel", "warn"], environment, logs / f"bench-worker-{n}.log")
        for n in range(arguments.workers)
    ]
    try:
        async with runtime(settings) as rt:
            await asyncio.sleep(arguments.warmup_s)  # let the workers join their group first
            if arguments.backlog:
                await backlog(rt, processes, batches, total)
                return
            began, cpu_began = time.perf_counter(), cpu_now(processes)
            await offered_load(rt.store, batches, arguments.rate)
            appended = time.perf_counter()
            head = (await rt.store.head()).position
            await poll_until(lambda: relayed(rt.pool, head), "relayed", processes, tick_s=0.02)
            relayed_at = time.perf_counter()
            ends = await end_offsets(settings.kafka_bootstrap_servers, rt.router.topics())
            await poll_until(lambda: caught_up(rt.pool, ends), "caught up", processes)
            finished, cpu_finished = time.perf_counter(), cpu_now(processes)
            tops = await applied_positions(rt.pool)
            if not tops.get("ledger") == tops.get("metrics") == head:
                raise SystemExit(f"caught up, but not at the head {head}: {tops}")
            lag_ms = await lag_p99_ms(rt.pool)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        if not arguments.keep:
            await clean_up(settings)
    print(f"events: {total}, offered {arguments.rate}/s, appended in {appended - began:.1f} s, "
          f"relayed {relayed_at - appended:.2f} s and caught up {finished - appended:.2f} s later, "
          f"workers {arguments.workers}")  # fmt: skip
    print(cpu_report(cpu_began, cpu_finished, total))
    print(f"bench: e2e_events_per_s {total / (finished - began):.0f}")
    print(f"bench: e2e_lag_p99_ms {lag_ms:.0f}")


async def poll_until(
    condition: Callable[[], Awaitable[bool]],
    what: str,
    processes: list[subprocess.Popen[bytes]],
    tick_s: float = TICK_S / 2,
) -> None:
    """Poll PostgreSQL (the progress lives there only: no event to wait on); a relay or worker
    that exited fails the run at once (its log is under .stack/logs)."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if await condition():
            return
        exited = [process.args for process in processes if process.poll() is not None]
        if exited:
            raise SystemExit(f"exited before {what}: {exited}")
        await asyncio.sleep(tick_s)
    raise SystemExit(f"not {what} within {CATCH_UP_TIMEOUT_S:.0f} s")


async def backlog(
    rt: Runtime,
    processes: list[subprocess.Popen[bytes]],
    batches: list[list[AppendRequest]],
    total: int,
) -> None:
    """The workers alone (`--backlog`): stopped (SIGSTOP) while every event is appended and
    relayed, then resumed and timed until both projections are at the head. Their CPU per event
    here is not inflated by the appender and the relay competing for the same cores."""
    workers = processes[1:]
    for worker in workers:
        os.kill(worker.pid, signal.SIGSTOP)
    await offered_load(rt.store, batches, rate=10**9)
    head = (await rt.store.head()).position
    await poll_until(lambda: relayed(rt.pool, head), "relayed", processes)
    ends = await end_offsets(rt.settings.kafka_bootstrap_servers, rt.router.topics())
    began, cpu_began = time.perf_counter(), cpu_now(processes)
    for worker in workers:
        os.kill(worker.pid, signal.SIGCONT)
    await poll_until(lambda: caught_up(rt.pool, ends), "caught up", processes)
    finished, cpu_finished = time.perf_counter(), cpu_now(processes)
    print(f"events: {total}, backlog consumed by {len(workers)} workers in "
          f"{finished - began:.1f} s")  # fmt: skip
    print(cpu_report(cpu_began, cpu_finished, total, since="resume"))
    print(f"bench: backlog_events_per_s {total / (finished - began):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=12_000, help="offered append rate, events/s")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup-s", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--backlog", action="store_true",
        help="append and relay everything first, then time the workers alone",
    )  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
