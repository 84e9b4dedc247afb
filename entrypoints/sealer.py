"""At each business day's end, the day's checkpoint is signed, stored and exported by itself.

The API process runs `run_sealer` beside its other background work when it holds the signing key
(FEES_AUDIT_SIGNING_KEY): every few minutes it asks whether yesterday (Asia/Ho_Chi_Minh) has a
checkpoint, and once the day is sealed (5 minutes after midnight) signs it and writes its JSON to
FEES_AUDIT_CHECKPOINT_DIR, which operations copy somewhere the database's owners cannot write.
Days missed while no API process ran (up to SEAL_CATCH_UP_DAYS_MAX back) are signed too, in order,
and a checkpoint whose file is missing is written again. Signing the same day again is a no-op,
so several API processes may all run it. A failure is logged and tried again at the next turn;
it never ends the loop.
"""

import asyncio
import contextlib
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from entrypoints.bootstrap import Runtime
from entrypoints.evidence_cli import signer_from, trusted_from
from entrypoints.settings import Settings
from events.audit.checkpoints import CheckpointRepository, SealOutcome, ensure_sealed, seal_day
from events.audit.errors import AuditError, DayNotSealedError
from events.audit.package_export import write_json
from events.clock_and_ids import Clock
from schemas.time import business_date

log = structlog.get_logger("audit.sealer")


SEAL_CATCH_UP_DAYS_MAX = 31  # days back a sealer signs what was missed (an outage's worth)


async def days_to_seal(repository: CheckpointRepository, yesterday: date) -> list[date]:
    """Yesterday, and every day after the last signed one within the catch-up window. With no
    checkpoint in the window (a new store), yesterday alone: older days are signed by hand."""
    start = yesterday - timedelta(days=SEAL_CATCH_UP_DAYS_MAX - 1)
    signed = {c.claim.business_date for c in await repository.between(start, yesterday)}
    if not signed:
        return [yesterday]
    latest = max(signed)
    missed = [latest + timedelta(days=n) for n in range(1, (yesterday - latest).days + 1)]
    return missed or [yesterday]  # yesterday signed already: checked again for its file


async def seal_previous_days(rt: Runtime, settings: Settings, clock: Clock) -> list[SealOutcome]:
    """Sign yesterday's checkpoint, and any missed before it, once yesterday is sealed (none
    while it is not yet); write each one's file if it is not there."""
    zone, now = ZoneInfo(settings.business_zone), clock.now()
    yesterday = business_date(now, zone) - timedelta(days=1)
    try:
        ensure_sealed(yesterday, now, zone)
    except DayNotSealedError:
        return []
    repository = CheckpointRepository(rt.pool)
    signer, trusted = signer_from(settings), trusted_from(settings, None)
    outcomes = []
    for day in await days_to_seal(repository, yesterday):
        outcome = await seal_day(
            rt.store, repository, signer, day, now=now, zone=zone, trusted=trusted
        )
        path = settings.audit_checkpoint_dir / f"checkpoint-{day.isoformat()}.json"
        if outcome.created or not path.exists():
            document = {**outcome.checkpoint.document(), "zone": zone.key}
            await asyncio.to_thread(_export, path, document)
            log.info(
                "audit.checkpoint_exported", day=day.isoformat(), path=str(path),
                position=outcome.checkpoint.claim.position, created=outcome.created,
            )  # fmt: skip
        outcomes.append(outcome)
    return outcomes


def _export(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, document)


async def run_sealer(rt: Runtime, settings: Settings, clock: Clock, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await seal_previous_days(rt, settings, clock)
        except AuditError as error:  # a broken chain or a conflicting checkpoint: loud, not fatal
            log.error("audit.checkpoint_refused", error=str(error), code=error.code)
        except Exception as error:  # the database away, a full disk: tried again next turn
            log.error("audit.sealer_failed", error=repr(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.audit_seal_interval_s)
