"""All configuration, from FEES_* environment variables (then config/local.env for the local stack).

Secrets (the database password inside the DSN, later gateway and token keys) have no default in
code: locally they come from config/local.env, which only describes the loopback test stack.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FEES_",
        env_file=REPOSITORY_ROOT / "config" / "local.env",
        extra="ignore",
        frozen=True,
    )

    database_dsn: SecretStr
    database_pool_size_min: int = Field(default=2, ge=1, le=100)
    database_pool_size_max: int = Field(default=10, ge=1, le=100)
    database_command_timeout_s: float = Field(default=30.0, gt=0)
    # Per-test isolation (and blue/green schemas later): every connection uses this search_path.
    database_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    kafka_bootstrap_servers: str
    topic_payments_events: str = "payments.events.v1"
    topic_reconciliation_events: str = "reconciliation.events.v1"
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    # Single-node test broker: 1 and 1. Production: replication 3, min in-sync replicas 2.
    topic_replication_factor: int = Field(default=1, ge=1, le=5)
    topic_min_insync_replicas: int = Field(default=1, ge=1, le=5)

    relay_name: str = "kafka"
    relay_batch_max: int = Field(default=5000, ge=1, le=5000)
    relay_poll_interval_s: float = Field(default=0.05, gt=0, le=10)

    # HTTP API and its bearer tokens (HS256). The secret has no default: config/local.env
    # provides one for the loopback stack only.
    auth_token_secret: SecretStr
    auth_token_ttl_s: int = Field(default=3600, ge=60, le=86_400)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=58000, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:58000"

    # Payments: deadlines, the fee schedule label, the gateway terminal and its secrets.
    payment_window_s: int = Field(default=24 * 3600, ge=60, le=30 * 86_400)
    gateway_window_s: int = Field(default=15 * 60, ge=60, le=86_400)
    expiry_sweep_interval_s: float = Field(default=30.0, gt=0, le=3600)
    fee_schedule_label: str = "2026.1"
    gateway_tmn_code: str
    gateway_secrets: dict[str, SecretStr]  # JSON: {"v2": "...", "v1": "..."} for rotation
    gateway_current_secret_version: str
    gateway_pay_url: str
    gateway_api_url: str

    # Faust workers. Production values; tests and the demo lower the timeouts (faster joins).
    stream_app_id: str = "province-fees"  # the consumer group; tests use their own
    stream_session_timeout_s: float = Field(default=60.0, gt=0)
    stream_heartbeat_interval_s: float = Field(default=3.0, gt=0)
    stream_rebalance_timeout_s: float = Field(default=60.0, gt=0)
    stream_commit_interval_s: float = Field(default=2.8, gt=0)
    stream_recovery_delay_s: float = Field(default=10.0, ge=0)
    stream_batch_max: int = Field(default=2000, ge=1, le=20_000)
    stream_batch_within_s: float = Field(default=0.2, gt=0, le=10)
    # Events a worker holds fetched ahead of its agent (Faust's stream_buffer_maxsize, 4096 by
    # default, which kept a lone worker waiting for its next batch: docs/ledger-and-metrics.md).
    stream_buffer_maxsize: int = Field(default=16_384, ge=1, le=262_144)
    stream_web_enabled: bool = False
    # Live counters in a Faust table (metrics/streams/live_counters.py); see
    # docs/ledger-and-metrics.md for what they cost and the Faust recovery defect they exposed.
    # Off, the workers keep only the PostgreSQL counters.
    stream_live_metrics: bool = True
    stream_web_port: int = Field(default=6066, ge=1, le=65535)
    # Faust's state directory (a worker keeps its table state under <dir>/<app id>); the default
    # is beside the local stack, never the working directory.
    stream_data_dir: Path = REPOSITORY_ROOT / ".stack" / "faust"

    # Reconciliation reference data; empty: the files shipped in reconciliation/data/.
    recon_rules_file: Path | None = None
    recon_holidays_file: Path | None = None
    recon_csv_mappings_file: Path | None = None
    # How long a run, decision, import or close waits for the settlement lock before answering
    # settlement_busy. Waiting holds no pooled connection, so a long wait costs nothing.
    recon_lock_wait_s: float = Field(default=60.0, gt=0, le=3600)

    # Signed daily checkpoints (docs/audit.md). The signing key is a secret (base64 of a raw
    # 32-byte Ed25519 private key) with no default: only the process that seals days needs it,
    # so every other process runs without. Public keys retired by a rotation stay trusted for
    # the checkpoints they signed: JSON list of base64 raw 32-byte public keys.
    audit_signing_key: SecretStr | None = None
    audit_public_keys: list[str] = Field(default_factory=list, max_length=100)
    # The day's checkpoint is signed by the API process at each business day's end (when it has
    # the key) and its JSON written here; operations copy it where database owners cannot write.
    audit_checkpoint_dir: Path = REPOSITORY_ROOT / "audit-checkpoints"
    audit_seal_interval_s: float = Field(default=300.0, gt=0, le=86_400)

    business_zone: str = "Asia/Ho_Chi_Minh"
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def topic_by_context(self) -> dict[str, str]:
        return {
            "payments": self.topic_payments_events,
            "reconciliation": self.topic_reconciliation_events,
        }


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
