"""The Faust worker: one app, the ledger and metrics agents, a PostgreSQL pool opened lazily.

Run with `fees worker` (several processes share the partitions of one consumer group).
"""

import asyncio

import asyncpg
import faust

from entrypoints.bootstrap import create_pool
from entrypoints.settings import Settings, load_settings
from events.registry import default_registry
from events.streaming.app import StreamingOptions, create_streaming_app
from events.streaming.lean import RawSchema
from events.streaming.runner import register_batch_agent
from ledger.streams.agents import ledger_consumer
from metrics.streams.agents import metrics_consumer
from metrics.streams.live_counters import live_counters


class LazyPool:
    """The asyncpg pool, created on first use inside the worker's event loop."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await create_pool(self._settings)
            return self._pool


def streaming_options(settings: Settings) -> StreamingOptions:
    return StreamingOptions(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        session_timeout_s=settings.stream_session_timeout_s,
        heartbeat_interval_s=settings.stream_heartbeat_interval_s,
        rebalance_timeout_s=settings.stream_rebalance_timeout_s,
        commit_interval_s=settings.stream_commit_interval_s,
        recovery_delay_s=settings.stream_recovery_delay_s,
        buffer_maxsize=settings.stream_buffer_maxsize,
        web_enabled=settings.stream_web_enabled,
        web_port=settings.stream_web_port,
        data_dir=settings.stream_data_dir,
        app_id=settings.stream_app_id,
    )


def build_worker(settings: Settings) -> faust.App:
    app = create_streaming_app(streaming_options(settings))
    registry = default_registry()
    # Payment events and reconciliation decisions both post to the ledger: one agent, two topics
    # (the consumer's progress is kept per topic and partition).
    topic = app.topic(
        settings.topic_payments_events, settings.topic_reconciliation_events, schema=RawSchema(),
    )  # fmt: skip
    dead_letters = app.topic(
        f"{settings.topic_payments_events}.dlq", key_type=bytes, value_type=bytes,
        partitions=1,
    )  # fmt: skip
    pool = LazyPool(settings)
    live = (
        live_counters(app, partitions=settings.topic_partitions)
        if settings.stream_live_metrics
        else None
    )
    register_batch_agent(
        app, "projections", topic, dead_letters,
        [ledger_consumer(pool), metrics_consumer(pool)], registry,
        batch_max=settings.stream_batch_max, within_s=settings.stream_batch_within_s,
        on_batch=None if live is None else live.apply,
    )  # fmt: skip
    return app


def main(argv: list[str] | None = None) -> None:
    """Start a worker; `argv` are Faust's own worker options (e.g. ["--loglevel", "info"])."""
    import sys

    app = build_worker(load_settings())
    # Faust's own web server is not used (the API serves /metrics); it would also fight over
    # port 6066 when several workers run on one machine.
    sys.argv = ["fees-worker", "worker", "--without-web", *(argv or ["--loglevel", "warn"])]
    app.main()


if __name__ == "__main__":
    main()
