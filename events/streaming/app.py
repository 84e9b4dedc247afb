"""The single faust-streaming application, built from settings.

Kafka delivers at least once; no agent relies on Faust's exactly-once processing (it has open
duplicate-processing issues). Correctness comes from each agent's idempotent PostgreSQL write.
Faust tables are caches that a worker rebuilds from their changelog topics.

Group timing: Faust's defaults made a worker's first join take ~30 s and a restart ~2 min here.
The values below are the production ones; tests and the demo pass shorter ones (see settings).
"""

from datetime import timedelta

import faust

from entrypoints.settings import Settings

APP_ID = "province-fees"


def create_streaming_app(settings: Settings, *, app_id: str = APP_ID) -> faust.App:
    return faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",  # tables are caches; their changelog topics restore them
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.stream_session_timeout_s,
        broker_heartbeat_interval=settings.stream_heartbeat_interval_s,
        broker_rebalance_timeout=settings.stream_rebalance_timeout_s,
        broker_commit_interval=settings.stream_commit_interval_s,
        stream_wait_empty=False,
        table_standby_replicas=0,
        web_enabled=settings.stream_web_enabled,
        web_port=settings.stream_web_port,
        worker_redirect_stdouts=False,
        producer_acks=-1,
        stream_recovery_delay=timedelta(seconds=settings.stream_recovery_delay_s),
    )
