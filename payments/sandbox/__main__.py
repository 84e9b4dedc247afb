"""Run the sandbox gateway: `python -m payments.sandbox --port 59100`.

Configuration comes from FEES_SANDBOX_* environment variables (then config/local.env):
FEES_SANDBOX_MERCHANT_IPN_URL (required), FEES_SANDBOX_SECRET and FEES_SANDBOX_TMN_CODE,
FEES_SANDBOX_DEFAULT_OUTCOME, FEES_SANDBOX_LATE_DELAY_S, FEES_SANDBOX_IPN_ATTEMPT_COUNT_MAX and
FEES_SANDBOX_OUTCOME_WEIGHTS as JSON, e.g. '{"success": 90, "failure": 6, "timeout": 4}'.
Without FEES_SANDBOX_SECRET / _TMN_CODE the sandbox plays the terminal the API is configured for
(FEES_GATEWAY_SECRETS at FEES_GATEWAY_CURRENT_SECRET_VERSION, FEES_GATEWAY_TMN_CODE), so a local
stack needs the secret in one place only. No secret has a default in code.
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from payments.sandbox.app import Outcome, SandboxConfig, create_sandbox_app

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FEES_SANDBOX_",
        env_file=REPOSITORY_ROOT / "config" / "local.env",
        extra="ignore",
        frozen=True,
    )

    merchant_ipn_url: str = Field(pattern=r"^https?://")
    secret: SecretStr | None = None
    tmn_code: str = Field(
        default="FEESDEMO",
        pattern=r"^[A-Za-z0-9]{1,8}$",
        validation_alias=AliasChoices("FEES_SANDBOX_TMN_CODE", "FEES_GATEWAY_TMN_CODE"),
    )
    gateway_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, validation_alias="FEES_GATEWAY_SECRETS"
    )
    gateway_current_secret_version: str | None = Field(
        default=None, validation_alias="FEES_GATEWAY_CURRENT_SECRET_VERSION"
    )
    default_outcome: Outcome = "success"
    outcome_weights: dict[Outcome, int] = Field(default_factory=dict)
    late_delay_s: float = Field(default=2.0, ge=0, le=600)
    ipn_attempt_count_max: int = Field(default=3, ge=1, le=10)

    def terminal_secret(self) -> bytes:
        """FEES_SANDBOX_SECRET, else the API's current gateway secret; refuses to run without."""
        if self.secret is not None:
            return self.secret.get_secret_value().encode("utf-8")
        version = self.gateway_current_secret_version
        if version is not None and version in self.gateway_secrets:
            return self.gateway_secrets[version].get_secret_value().encode("utf-8")
        raise ValueError(
            "no sandbox secret: set FEES_SANDBOX_SECRET, or FEES_GATEWAY_SECRETS (JSON) with "
            "FEES_GATEWAY_CURRENT_SECRET_VERSION naming one of its versions"
        )

    def to_config(self) -> SandboxConfig:
        return SandboxConfig(
            tmn_code=self.tmn_code,
            secret=self.terminal_secret(),
            merchant_ipn_url=self.merchant_ipn_url,
            default_outcome=self.default_outcome,
            outcome_weights=self.outcome_weights,
            late_delay_s=self.late_delay_s,
            ipn_attempt_count_max=self.ipn_attempt_count_max,
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m payments.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=59100)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    arguments = parser.parse_args(argv)
    config = SandboxSettings().to_config()
    app = create_sandbox_app(config)
    uvicorn.run(app, host=arguments.host, port=arguments.port, log_level=arguments.log_level)


if __name__ == "__main__":
    main()
