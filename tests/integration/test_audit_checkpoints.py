"""Proves that signed daily checkpoints catch what the hash chain alone cannot: an intruder with
database access who rewrites an event AND recomputes every later hash and the head. `fees audit
verify` then calls the chain intact, but `fees audit verify-checkpoints` fails, exit 1, at the
first day whose signed head came after the rewrite. Also: checkpoints are write-once (identical
re-signing is a no-op, anything else is refused), a day is signed only once it has ended, a
checkpoint signed with a key nobody trusts is reported, and a package exported from the rewritten
chain fails its own check."""

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from entrypoints.bootstrap import Runtime
from entrypoints.sealer import seal_previous_days
from entrypoints.settings import Settings
from events.audit.checkpoint_verify import verify_checkpoints
from events.audit.checkpoints import CheckpointRepository, SignedCheckpoint, seal_day
from events.audit.errors import ChainBrokenError, CheckpointConflictError, DayNotSealedError
from events.audit.signing import (
    CheckpointSigner,
    claim_for,
    generate_private_key,
    signature_problem,
    trusted_keys,
)
from events.clock_and_ids import FixedClock
from events.store.postgres import PostgresEventStore
from events.store.verify import verify_chain
from schemas.time import BUSINESS_ZONE
from tests.integration.audit_harness import (
    append_day,
    local_time,
    past_day,
    rewrite_and_rechain,
    run_cli,
    settings_signer,
)

EVENTS_PER_DAY = 12
DAY_ONE, DAY_TWO, DAY_THREE = past_day(4), past_day(3), past_day(2)


async def three_signed_days(
    database: asyncpg.Pool, store: PostgresEventStore, signer: CheckpointSigner
) -> CheckpointRepository:
    """12 events on each of three past days (positions 1-12, 13-24, 25-36), each day signed."""
    repository = CheckpointRepository(database)
    for day in (DAY_ONE, DAY_TWO, DAY_THREE):
        await append_day(database, day, EVENTS_PER_DAY)
    for day in (DAY_ONE, DAY_TWO, DAY_THREE):
        await seal(store, repository, signer, day)
    return repository


async def seal(
    store: PostgresEventStore,
    repository: CheckpointRepository,
    signer: CheckpointSigner,
    day: date,
) -> SignedCheckpoint:
    outcome = await seal_day(
        store,
        repository,
        signer,
        day,
        now=datetime.now(UTC),
        zone=BUSINESS_ZONE,
        trusted=trusted_keys([signer.public_key]),
    )
    return outcome.checkpoint


async def test_a_rewrite_with_recomputed_hashes_fails_at_the_right_day(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings, tmp_path: Path
) -> None:
    signer = settings_signer(settings)
    repository = await three_signed_days(database, store, signer)
    trusted = trusted_keys([signer.public_key])
    before = await verify_checkpoints(store, repository, trusted, page_size=5)
    assert before.intact and before.checked_count == 3 and before.last_good_position == 36
    ok = run_cli(settings, "audit", "verify-checkpoints")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact: 3 checkpoints verify" in ok.stdout

    await rewrite_and_rechain(database, position=17, amount_minor=1)  # an event of day two

    chain = await verify_chain(store, page_size=5)
    assert chain.intact, "the recomputed chain is consistent: the chain alone cannot tell"
    assert run_cli(settings, "audit", "verify").returncode == 0

    after = await verify_checkpoints(store, repository, trusted, page_size=5)
    failed = [(f.business_date, f.position, f.problem) for f in after.findings]
    assert failed == [(DAY_TWO, 24, "head_mismatch"), (DAY_THREE, 36, "head_mismatch")]
    assert "after position 12 and up to 24 was rewritten" in after.findings[0].detail
    assert after.last_good_position == 12  # day one's signed head still holds
    broken = run_cli(settings, "audit", "verify-checkpoints")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"FAILED checkpoint of {DAY_TWO} at position 24 (head_mismatch)" in broken.stdout
    assert f"checkpoint of {DAY_ONE}" not in broken.stdout

    with pytest.raises(ChainBrokenError, match="rewritten after it was signed"):
        await seal(store, repository, signer, DAY_THREE)  # the province refuses to re-sign

    # A package of the rewritten day chains from its anchor, but not to the signed head.
    package = tmp_path / "package"
    day = DAY_TWO.isoformat()
    exported = run_cli(
        settings, "audit", "export", "--from", day, "--to", day, "--output", str(package)
    )
    assert exported.returncode == 1, exported.stdout + exported.stderr
    assert f"INVALID checkpoint of {DAY_TWO} (position 24): the package gives hash" in (
        exported.stdout
    )


async def test_checkpoints_are_write_once(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings
) -> None:
    signer = settings_signer(settings)
    repository = await three_signed_days(database, store, signer)
    first = (await repository.between(DAY_ONE, DAY_ONE))[0]
    again = await seal_day(
        store,
        repository,
        signer,
        DAY_ONE,
        now=datetime.now(UTC),
        zone=BUSINESS_ZONE,
        trusted=trusted_keys([signer.public_key]),
    )
    assert not again.created and again.checkpoint == first
    assert first.claim.position == EVENTS_PER_DAY

    other = CheckpointSigner(generate_private_key())
    with pytest.raises(CheckpointConflictError, match="key_id: stored"):
        await seal_day(
            store,
            repository,
            other,
            DAY_ONE,
            now=datetime.now(UTC),
            zone=BUSINESS_ZONE,
            trusted=trusted_keys([signer.public_key, other.public_key]),
        )
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await database.execute("UPDATE chain_checkpoints SET position = 1")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await database.execute("DELETE FROM chain_checkpoints")


async def test_a_day_is_signed_only_once_it_has_ended(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings, tmp_path: Path
) -> None:
    signer = settings_signer(settings)
    with pytest.raises(DayNotSealedError):
        await seal(store, CheckpointRepository(database), signer, past_day(0))
    today = run_cli(settings, "audit", "checkpoint", "--day", past_day(0).isoformat())
    assert today.returncode == 2
    assert "day_not_sealed" in today.stdout

    await append_day(database, DAY_ONE, EVENTS_PER_DAY)
    output = tmp_path / "day-one.json"
    signed = run_cli(
        settings, "audit", "checkpoint", "--day", DAY_ONE.isoformat(), "--output", str(output)
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert f"signed {DAY_ONE}: position {EVENTS_PER_DAY}" in signed.stdout
    exported = json.loads(output.read_text())
    public = run_cli(settings, "audit", "public-key")
    assert public.returncode == 0 and public.stdout.strip() == exported["public_key"]
    claim = claim_for(
        DAY_ONE,
        exported["position"],
        bytes.fromhex(exported["head_hash"]),
        datetime.fromisoformat(exported["head_recorded_at"]),
        exported["key_id"],
    )
    assert claim.message().decode() == exported["message"]
    signature = base64.b64decode(exported["signature"])
    assert signature_problem(claim, signature, trusted_keys([signer.public_key])) is None
    again = run_cli(
        settings,
        "audit",
        "checkpoint",
        "--day",
        DAY_ONE.isoformat(),
        "--output",
        str(tmp_path / "again.json"),
    )
    assert again.returncode == 0 and "already signed (identical" in again.stdout


async def test_a_checkpoint_signed_by_an_unknown_key_is_reported(
    database: asyncpg.Pool, store: PostgresEventStore, settings: Settings
) -> None:
    province = settings_signer(settings)
    await append_day(database, DAY_ONE, EVENTS_PER_DAY)
    intruder = CheckpointSigner(generate_private_key())
    claim = claim_for(DAY_ONE, 0, bytes(32), None, intruder.key_id)
    forged = SignedCheckpoint(claim, intruder.public_key, intruder.sign(claim))
    assert await CheckpointRepository(database).insert(forged, None)

    report = await verify_checkpoints(
        store, CheckpointRepository(database), trusted_keys([province.public_key])
    )
    assert [(f.business_date, f.problem) for f in report.findings] == [(DAY_ONE, "signature")]
    assert f"signed by key {intruder.key_id}, which is not a trusted key" in (
        report.findings[0].detail
    )
    result = run_cli(settings, "audit", "verify-checkpoints")
    assert result.returncode == 1
    assert f"FAILED checkpoint of {DAY_ONE} at position 0 (signature)" in result.stdout


async def test_the_api_process_seals_yesterday_by_itself(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """The sealer signs, stores and exports yesterday's checkpoint once the day has ended (five
    minutes past midnight), once: asking again changes nothing."""
    yesterday = past_day(1)
    await append_day(runtime.pool, yesterday, 8)
    sealing = settings.model_copy(update={"audit_checkpoint_dir": tmp_path})
    just_after_midnight = local_time(yesterday + timedelta(days=1), 0, 1)
    assert await seal_previous_days(runtime, sealing, FixedClock(just_after_midnight)) == []
    clock = FixedClock(local_time(yesterday + timedelta(days=1), 0, 6))
    [outcome] = await seal_previous_days(runtime, sealing, clock)
    assert outcome.created and outcome.checkpoint.claim.position == 8
    exported = json.loads((tmp_path / f"checkpoint-{yesterday.isoformat()}.json").read_text())
    assert exported["position"] == 8
    [again] = await seal_previous_days(runtime, sealing, clock)
    assert not again.created


async def test_the_sealer_catches_up_days_it_missed_and_rewrites_a_lost_file(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """No API process ran for two days: the next one signs both, in order, not just
    yesterday. A checkpoint file that went missing is written again from the stored one."""
    for days_ago in (3, 2, 1):
        await append_day(runtime.pool, past_day(days_ago), 4)
    sealing = settings.model_copy(update={"audit_checkpoint_dir": tmp_path})
    first = await seal_previous_days(runtime, sealing, FixedClock(local_time(past_day(2), 0, 6)))
    assert [o.checkpoint.claim.business_date for o in first] == [past_day(3)]
    clock = FixedClock(local_time(past_day(0), 0, 6))
    later = await seal_previous_days(runtime, sealing, clock)
    assert [(o.checkpoint.claim.business_date, o.created) for o in later] == [
        (past_day(2), True),
        (past_day(1), True),
    ]
    assert [o.checkpoint.claim.position for o in later] == [8, 12]
    lost = tmp_path / f"checkpoint-{past_day(1).isoformat()}.json"
    lost.unlink()
    await seal_previous_days(runtime, sealing, clock)
    assert json.loads(lost.read_text())["position"] == 12
