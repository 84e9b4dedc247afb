"""The single faust-streaming application, built from settings.

Kafka delivers at least once; no agent relies on Faust's exactly-once processing (it has open
duplicate-processing issues). Correctness comes from each agent's idempotent PostgreSQL write.
Faust tables are caches that a worker rebuilds from their changelog topics.

Group timing: Faust's defaults made a worker's first join take ~30 s and a restart ~2 min here.
The values below are the production ones; tests and the demo pass shorter ones (see settings).
"""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import faust

from events.streaming import lean, recovery, transport

APP_ID = "province-fees"


@dataclass(frozen=True)
class StreamingOptions:
    bootstrap_servers: str
    partitions: int
    replication_factor: int
    session_timeout_s: float
    heartbeat_interval_s: float
    rebalance_timeout_s: float
    commit_interval_s: float
    recovery_delay_s: float
    web_enabled: bool
    web_port: int
    data_dir: Path
    buffer_maxsize: int  # events fetched ahead of an agent (FEES_STREAM_BUFFER_MAXSIZE)
    app_id: str = APP_ID


def create_streaming_app(options: StreamingOptions) -> faust.App:
    options.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        options.app_id,
        broker=f"{transport.register()}://{options.bootstrap_servers}",
        store="memory://",  # tables are caches; their changelog topics restore them
        datadir=str(options.data_dir / options.app_id),
        autodiscover=False,
        topic_partitions=options.partitions,
        topic_replication_factor=options.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=options.session_timeout_s,
        broker_heartbeat_interval=options.heartbeat_interval_s,
        broker_rebalance_timeout=options.rebalance_timeout_s,
        broker_commit_interval=options.commit_interval_s,
        stream_wait_empty=False,
        stream_buffer_maxsize=options.buffer_maxsize,
        table_standby_replicas=0,
        web_enabled=options.web_enabled,
        web_port=options.web_port,
        worker_redirect_stdouts=False,
        producer_acks=-1,
        stream_recovery_delay=timedelta(seconds=options.recovery_delay_s),
        TableManager=recovery.TableManager,  # keeps what is read while recovery ends
        Monitor=lean.LeanMonitor,  # no per-message statistics for Faust's unused web pages
    )
