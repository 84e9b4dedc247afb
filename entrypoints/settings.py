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
