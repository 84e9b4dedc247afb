"""Proves the audit package end to end on the real database: a simulated payment day (with days
before and after it) is exported by `fees audit export`, and `fees audit verify-package`, reading
only the files, says valid with the province's public key. Flipping one digit of an amount in
events.jsonl makes it fail (exit 1) naming that line; tampering with the manifest fails too; and
the export refuses a day that has not ended or was not signed, and an occupied directory."""

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import asyncpg

from entrypoints.settings import Settings
from events.audit.checkpoints import CheckpointRepository, seal_day
from events.audit.package_verify import verify_package
from events.audit.signing import encode_base64, trusted_keys
from events.store.postgres import PostgresEventStore
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.simulation import Simulation
from schemas.time import BUSINESS_ZONE
from tests.integration.audit_harness import (
    append_day,
    append_recorded_at,
    local_time,
    past_day,
    run_cli,
    settings_signer,
)

DAY = past_day(2)
DAY_BEFORE, DAY_AFTER = DAY - timedelta(days=1), DAY + timedelta(days=1)
EVENTS_BEFORE = 8
DOSSIERS = 60
AMOUNT = re.compile(rb'"amount_minor":(\d+)')


async def simulated_history(database: asyncpg.Pool, store: PostgresEventStore) -> tuple[int, int]:
    """Events the day before, a simulated payment day, events the day after; every day signed.
    Returns the day's first and last position."""
    await append_day(database, DAY_BEFORE, EVENTS_BEFORE)
    simulation = Simulation(load_fee_schedule(), load_units(), seed=7, start_at=local_time(DAY, 8))
    for index, batch in enumerate(simulation.batches(DOSSIERS, 20)):
        await append_recorded_at(database, batch, local_time(DAY, 18, index))
    last_position = (await store.head()).position
    await append_day(database, DAY_AFTER, 8)
    return EVENTS_BEFORE + 1, last_position


async def seal_all(store: PostgresEventStore, database: asyncpg.Pool, settings: Settings) -> None:
    signer = settings_signer(settings)
    for day in (DAY_BEFORE, DAY, DAY_AFTER):
        await seal_day(
            store,
            CheckpointRepository(database),
            signer,
            day,
            now=datetime.now(UTC),
            zone=BUSINESS_ZONE,
            trusted=trusted_keys([signer.public_key]),
        )


def flip_amount_digit(events_file: Path) -> int:
    """Change one digit of the first amount on the 5th line or later; return that line number."""
    lines = events_file.read_bytes().splitlines(keepends=True)
    for number, line in enumerate(lines[4:], start=5):
        found = AMOUNT.search(line)
        if found:
            digit = found.start(1)
            flipped = b"1" if line[digit : digit + 1] != b"1" else b"2"
            lines[number - 1] = line[:digit] + flipped + line[digit + 1 :]
            events_file.write_bytes(b"".join(lines))
            return number
    raise AssertionError("no amount in the simulated day")


async def test_export_verifies_and_a_flipped_digit_names_its_line(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings, tmp_path: Path
) -> None:
    first, last = await simulated_history(database, store)
    await seal_all(store, database, settings)
    public_key = encode_base64(settings_signer(settings).public_key)
    package = tmp_path / "package"

    exported = run_cli(
        settings,
        "audit",
        "export",
        "--from",
        DAY.isoformat(),
        "--to",
        DAY.isoformat(),
        "--output",
        str(package),
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert f"valid: {package}" in exported.stdout  # the export checks what it wrote
    manifest = json.loads((package / "manifest.json").read_text())
    assert (manifest["first_position"], manifest["last_position"]) == (first, last)
    assert manifest["anchor"]["position"] == EVENTS_BEFORE
    assert manifest["event_count"] == last - first + 1 > 100
    assert [c["business_date"] for c in manifest["checkpoints"]] == [
        DAY_BEFORE.isoformat(),
        DAY.isoformat(),
    ]
    assert len((package / "events.jsonl").read_bytes().splitlines()) == manifest["event_count"]
    assert "## 2. Each event line" in (package / "VERIFY.md").read_text()

    valid = run_cli(settings, "audit", "verify-package", str(package), "--public-key", public_key)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert f"valid: {package} holds {manifest['event_count']} events" in valid.stdout

    altered = tmp_path / "altered"
    shutil.copytree(package, altered)
    line = flip_amount_digit(altered / "events.jsonl")
    broken = run_cli(settings, "audit", "verify-package", str(altered), "--public-key", public_key)
    assert broken.returncode == 1
    assert f"INVALID events.jsonl line {line} (position {EVENTS_BEFORE + line})" in broken.stdout


def export(settings: Settings, first: str, last: str, output: Path) -> CompletedProcess[str]:
    return run_cli(
        settings, "audit", "export", "--from", first, "--to", last, "--output", str(output)
    )


async def test_manifest_tampering_is_caught(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings, tmp_path: Path
) -> None:
    await simulated_history(database, store)
    await seal_all(store, database, settings)
    trusted = trusted_keys([settings_signer(settings).public_key])
    package = tmp_path / "package"
    exported = export(settings, DAY_BEFORE.isoformat(), DAY_AFTER.isoformat(), package)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert verify_package(package, trusted).ok
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["anchor"] == {"position": 0, "entry_hash": "0" * 64, "recorded_at": "none"}

    moved_head = json.loads(json.dumps(manifest))
    signed = moved_head["checkpoints"][1]  # claim another head, message and all
    signed["message"] = signed["message"].replace(signed["head_hash"], "ab" * 32)
    signed["head_hash"] = "ab" * 32
    (package / "manifest.json").write_text(json.dumps(moved_head))
    report = verify_package(package, trusted)
    assert any(
        f"checkpoint of {DAY} " in p and "signature does not match" in p for p in report.problems
    ), report.problems

    fewer = {**manifest, "event_count": manifest["event_count"] - 1}
    fewer["last_position"] -= 1
    (package / "manifest.json").write_text(json.dumps(fewer))
    report = verify_package(package, trusted)
    assert not report.ok and any(
        "beyond the manifest's event_count" in p for p in report.problems
    ), report.problems


async def test_exports_that_could_not_be_trusted_are_refused(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings, tmp_path: Path
) -> None:
    await append_day(database, DAY, 8)
    await seal_all(store, database, settings)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("someone else's file")
    refused = export(settings, DAY.isoformat(), DAY.isoformat(), occupied)
    assert refused.returncode == 2 and "not an empty directory" in refused.stdout
    assert (occupied / "notes.txt").read_text() == "someone else's file"

    today = past_day(0).isoformat()
    unsealed = export(settings, today, today, tmp_path / "today")
    assert unsealed.returncode == 2 and "day_not_sealed" in unsealed.stdout
    unsigned_day = past_day(6).isoformat()  # sealed, but nobody signed it
    unsigned = export(settings, unsigned_day, unsigned_day, tmp_path / "unsigned")
    assert unsigned.returncode == 2 and "day_not_signed" in unsigned.stdout
    assert not (tmp_path / "today").exists() and not (tmp_path / "unsigned").exists()
