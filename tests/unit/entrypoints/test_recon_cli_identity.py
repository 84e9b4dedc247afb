"""Proves that `fees recon` acts only as the finance officer a signed token names: no name is
taken on trust (so maker-checker holds on the command line as in the API), and a missing,
forged, expired or non-finance token is refused before anything connects to the database."""

from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from entrypoints.auth import TokenService
from entrypoints.cli import app
from entrypoints.recon_cli import officer_of
from entrypoints.settings import load_settings
from schemas.api.auth import Principal, Role

SETTINGS = load_settings()
TOKENS = TokenService.from_settings(SETTINGS)
NOW = datetime.now(UTC)
FOREIGN = TokenService("x" * 32, timedelta(hours=1))  # another issuer's secret


def token(role: Role, subject: str, unit: str | None = None, at: datetime = NOW) -> str:
    return TOKENS.issue(Principal(subject=subject, role=role, unit_code=unit), at)


def test_the_officer_is_the_one_the_token_names() -> None:
    assert officer_of(token(Role.FINANCE, "lan"), SETTINGS).officer == "finance:lan"
    assert officer_of(token(Role.FINANCE, "minh"), SETTINGS).officer == "finance:minh"


@pytest.mark.parametrize(
    ("presented", "why"),
    [
        (token(Role.CLERK, "can-bo-07", "VP"), "not for the clerk this token names"),
        (token(Role.AUDITOR, "kt-1"), "not for the auditor this token names"),
        (token(Role.FINANCE, "lan", at=NOW - timedelta(days=2)), "invalid token"),
        (FOREIGN.issue(Principal(subject="lan", role=Role.FINANCE), NOW), "invalid token"),
        ("finance:lan", "invalid token"),
    ],
)
def test_anything_but_a_valid_finance_token_is_refused(presented: str, why: str) -> None:
    with pytest.raises(typer.BadParameter, match=why):
        officer_of(presented, SETTINGS)


def test_the_command_line_refuses_before_it_connects() -> None:
    runner = CliRunner()
    day = ["recon", "close", "0011001234567", "2026-11-25"]
    missing = runner.invoke(app, day, env={"FEES_TOKEN": ""})
    assert missing.exit_code == 2
    clerk = runner.invoke(app, [*day, "--token", token(Role.CLERK, "can-bo-07", "VP")])
    assert clerk.exit_code == 2 and "finance officers" in clerk.output
    # The old way of naming oneself is gone.
    named = runner.invoke(app, [*day, "--officer", "finance:lan"])
    assert named.exit_code == 2 and "No such option" in named.output
