"""At each business day's end, the day's checkpoint is signed, stored and exported by itself.

The API process runs `run_sealer` beside its other background work when it holds the signing key
(FEES_AUDIT_SIGNING_KEY): every few minutes it asks whether yesterday (Asia/Ho_Chi_Minh) has a
checkpoint, and once the day is sealed (5 minutes after midnight) signs it and writes its JSON to
FEES_AUDIT_CHECKPOINT_DIR, which operations copy somewhere the database's owners cannot write.
Signing the same day again is a no-op, so several API processes may all run it.
"""

import asyncio
import contextlib
from datetime import timedelta
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


async def seal_previous_day(rt: Runtime, settings: Settings, clock: Clock) -> SealOutcome | None:
    """Sign yesterday's checkpoint if the day is sealed; None while it is not yet."""
    zone, now = ZoneInfo(settings.business_zone), clock.now()
    day = business_date(now, zone) - timedelta(days=1)
    try:
        ensure_sealed(day, now, zone)
    except DayNotSealedError:
        return None
    outcome = await seal_day(
        rt.store, CheckpointRepository(rt.pool), signer_from(settings), day, now=now, zone=zone,
        trusted=trusted_from(settings, None),
    )  # fmt: skip
    if outcome.created:
        directory = settings.audit_checkpoint_dir
        path = directory / f"checkpoint-{day.isoformat()}.json"
        await asyncio.to_thread(_export, path, {**outcome.checkpoint.document(), "zone": zone.key})
        log.info("audit.checkpoint_signed", day=day.isoformat(), path=str(path),
                 position=outcome.checkpoint.claim.position)  # fmt: skip
    return outcome


def _export(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, document)


async def run_sealer(rt: Runtime, settings: Settings, clock: Clock, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await seal_previous_day(rt, settings, clock)
        except AuditError as error:  # a broken chain or a conflicting checkpoint: loud, not fatal
            log.error("audit.checkpoint_refused", error=str(error), code=error.code)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.audit_seal_interval_s)
