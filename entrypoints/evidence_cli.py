"""`fees audit checkpoint | verify-checkpoints | public-key | generate-key | export |
verify-package`: tamper evidence an outsider can check (docs/audit.md).

Exit codes: 0 verified or done; 1 evidence that history or a package was altered; 2 a refusal
(a day not sealed yet, a missing or malformed key, a conflicting checkpoint, an occupied output).
"""

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress

from entrypoints.bootstrap import runtime
from entrypoints.settings import Settings, load_settings
from entrypoints.terminal import console, progress_bar, run_command
from events.audit.checkpoint_verify import CheckpointReport, verify_checkpoints
from events.audit.checkpoints import CheckpointRepository, seal_day
from events.audit.errors import AuditKeyError
from events.audit.package_export import Period, export_package, write_json
from events.audit.package_verify import PackageReport, trusted_from_texts, verify_package
from events.audit.signing import (
    CheckpointSigner,
    encode_base64,
    generate_private_key,
    key_id_for,
)
from schemas.time import business_date

PublicKeys = Annotated[
    list[str] | None,
    typer.Option(
        "--public-key",
        help="A trusted public key: base64, or a file holding it. Repeat for rotated keys.",
    ),
]
MISSING_DAYS_SHOWN_MAX = 10


def _progress(description: str) -> Progress:
    """Progress on stderr, so that stdout carries only the verdict."""
    return progress_bar(description, Console(stderr=True))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a day YYYY-MM-DD") from error


def signer_from(settings: Settings) -> CheckpointSigner:
    if settings.audit_signing_key is None or not settings.audit_signing_key.get_secret_value():
        raise AuditKeyError("FEES_AUDIT_SIGNING_KEY is not set: only the sealing process has it")
    return CheckpointSigner.from_base64(settings.audit_signing_key.get_secret_value())


def _key_texts(values: list[str]) -> list[str]:
    """Each value is a key in base64 or the path of a file holding one."""
    return [Path(v).read_text("utf-8") if Path(v).is_file() else v for v in values]


def trusted_from(settings: Settings, public_keys: list[str] | None) -> dict[str, bytes]:
    """The keys given on the command line; else the configured ones (current and rotated)."""
    if public_keys:
        return trusted_from_texts(_key_texts(public_keys))
    texts = list(settings.audit_public_keys)
    if settings.audit_signing_key is not None and settings.audit_signing_key.get_secret_value():
        texts.append(encode_base64(signer_from(settings).public_key))
    if not texts:
        raise AuditKeyError("no public key: pass --public-key or set FEES_AUDIT_PUBLIC_KEYS")
    return trusted_from_texts(texts)


def _trusted_or_none(settings: Settings) -> dict[str, bytes] | None:
    try:
        return trusted_from(settings, None)
    except AuditKeyError:
        return None


def checkpoint_command(
    day: Annotated[
        str | None, typer.Option(help="Business day YYYY-MM-DD (default: yesterday).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="JSON file (default: ./checkpoint-DAY.json).")
    ] = None,
) -> None:
    """Sign the chain's head as of the end of a business day; store it (write-once) and export it.

    Refuses a day that has not ended plus 5 minutes. Signing a day again is a no-op when the
    chain still gives the same head, and refused otherwise."""

    async def command() -> int:
        settings = load_settings()
        zone, now = ZoneInfo(settings.business_zone), datetime.now(UTC)
        signer = signer_from(settings)
        target = _day(day) if day else business_date(now, zone) - timedelta(days=1)
        async with runtime(settings) as rt:
            outcome = await seal_day(
                rt.store,
                CheckpointRepository(rt.pool),
                signer,
                target,
                now=now,
                zone=zone,
                trusted=trusted_from(settings, None),
            )
        claim = outcome.checkpoint.claim
        path = output or Path(f"checkpoint-{target.isoformat()}.json")
        write_json(path, {**outcome.checkpoint.document(), "zone": zone.key})
        verb = "signed" if outcome.created else "already signed (identical, nothing stored)"
        console.print(
            f"[green]{verb}[/green] {target}: position {claim.position}, head "
            f"{claim.head_hash.hex()}, recorded {claim.head_recorded_at}, key "
            f"{claim.key_id}; exported to {path}"
        )
        return 0

    run_command(command())


def _print_checkpoint_report(report: CheckpointReport, trusted: dict[str, bytes]) -> None:
    for finding in report.findings:
        console.print(
            f"[red]FAILED[/red] checkpoint of {finding.business_date} at position "
            f"{finding.position} ({finding.problem}): {finding.detail}"
        )
    if report.missing_days:
        shown = ", ".join(str(d) for d in report.missing_days[:MISSING_DAYS_SHOWN_MAX])
        console.print(
            f"[yellow]warning[/yellow]: {len(report.missing_days)} days between the "
            f"first and last checkpoint have none: {shown}"
        )
    if report.intact:
        console.print(
            f"[green]intact[/green]: {report.checked_count} checkpoints verify (keys "
            f"{', '.join(sorted(trusted))}); the chain still gives every signed head, "
            f"up to position {report.last_good_position}"
        )


def verify_checkpoints_command(public_key: PublicKeys = None) -> None:
    """Check every stored checkpoint's signature and that the chain still yields its head.

    Exits 1 naming the day and position of each checkpoint that no longer matches: this catches
    a rewrite even when every later hash was recomputed."""

    async def command() -> int:
        settings = load_settings()
        trusted = trusted_from(settings, public_key)
        async with runtime(settings) as rt:
            with _progress("walking the chain") as progress:
                task = progress.add_task("walk", total=None)
                report = await verify_checkpoints(
                    rt.store,
                    CheckpointRepository(rt.pool),
                    trusted,
                    on_progress=lambda done, total: progress.update(
                        task, completed=done, total=total
                    ),
                )
        _print_checkpoint_report(report, trusted)
        return 0 if report.intact else 1

    run_command(command())


def public_key_command(
    output: Annotated[Path | None, typer.Option(help="Write it to this file too.")] = None,
) -> None:
    """Print the province's public key (base64), for auditors to verify without the secret."""
    signer = _signer_or_exit()
    text = encode_base64(signer.public_key)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)
    typer.echo(f"key id {signer.key_id}", err=True)


def _signer_or_exit() -> CheckpointSigner:
    try:
        return signer_from(load_settings())
    except AuditKeyError as error:
        console.print(f"[red]error[/red] ({error.code}): {error}")
        raise typer.Exit(2) from error


def generate_key_command(
    output: Annotated[Path, typer.Option(help="New file for the private key (mode 0600).")],
) -> None:
    """Create a new Ed25519 signing key: the private key into a new file, the public key shown.

    Store the file's content as FEES_AUDIT_SIGNING_KEY in the secret store and delete the file;
    on rotation, add the old public key to FEES_AUDIT_PUBLIC_KEYS (docs/audit.md)."""
    private_key = generate_private_key()
    try:
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        console.print(f"[red]error[/red]: {output} exists; a key is never overwritten")
        raise typer.Exit(2) from error
    with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
        key_file.write(encode_base64(private_key) + "\n")
    public_key = CheckpointSigner(private_key).public_key
    console.print(
        f"private key written to {output}; public key {encode_base64(public_key)}, "
        f"key id {key_id_for(public_key)}"
    )


def export_command(
    first_day: Annotated[str, typer.Option("--from", help="First business day YYYY-MM-DD.")],
    last_day: Annotated[str, typer.Option("--to", help="Last business day YYYY-MM-DD.")],
    output: Annotated[Path, typer.Option(help="A new or empty directory.")],
) -> None:
    """Write the audit package of a period: events.jsonl, manifest.json, VERIFY.md.

    The last day must be signed. The written package is then verified as a reader would: exit 1
    if it does not verify with the configured keys (history rewritten after it was signed)."""

    async def command() -> int:
        settings = load_settings()
        period = Period(_day(first_day), _day(last_day), ZoneInfo(settings.business_zone))
        async with runtime(settings) as rt:
            with _progress("exporting events") as progress:
                task = progress.add_task("export", total=None)
                summary = await export_package(
                    rt.store,
                    CheckpointRepository(rt.pool),
                    period,
                    output,
                    now=datetime.now(UTC),
                    on_progress=lambda done, total: progress.update(
                        task, completed=done, total=total
                    ),
                )
        console.print(
            f"exported {summary.event_count} events (positions "
            f"{summary.anchor_position + 1}..{summary.last_position}) of {first_day}.."
            f"{last_day} with {summary.checkpoint_count} checkpoints into {output}; "
            f"events.jsonl SHA-256 {summary.events_sha256}"
        )
        # Check the package as its reader will: a chain rewritten after signing fails here.
        report = verify_package(output, _trusted_or_none(settings))
        _print_package_report(output, report)
        return 0 if report.ok else 1

    run_command(command())


def _print_package_report(directory: Path, report: PackageReport) -> None:
    for problem in report.problems:
        console.print(f"[red]INVALID[/red] {problem}")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}")
    if report.ok:
        signed = (
            ", ".join(
                f"{day} at {position} (key {key_id})" for day, position, key_id in report.signed
            )
            or "none"
        )
        console.print(
            f"[green]valid[/green]: {directory} holds {report.event_count} events that "
            f"chain from its anchor; signed heads: {signed}"
        )


def verify_package_command(
    directory: Annotated[Path, typer.Argument(help="The package's directory.")],
    public_key: PublicKeys = None,
) -> None:
    """Verify an audit package from its files alone, without the database.

    Exits 1 naming the first bad line of events.jsonl, or the manifest field or checkpoint that
    does not hold; with --public-key the period's end must be signed by one of those keys."""
    try:
        trusted = trusted_from_texts(_key_texts(public_key)) if public_key else None
    except AuditKeyError as error:
        console.print(f"[red]error[/red] ({error.code}): {error}")
        raise typer.Exit(2) from error
    report = verify_package(directory, trusted)
    _print_package_report(directory, report)
    raise typer.Exit(0 if report.ok else 1)
