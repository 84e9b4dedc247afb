"""Export the events of a period as an audit package a third party verifies without us.

The package holds `events.jsonl` (each event's canonical document plus its `entry_hash`, in
position order), `manifest.json` (the anchor, the totals, the file's SHA-256 and the signed
checkpoints of the day before the period and of each day in it) and `VERIFY.md` (the procedure).
It is reproducible: the same period gives byte-identical files, so two exports can be compared
with a checksum. The rows are re-hashed from the anchor while they are written, so a package is
never produced from a chain that does not hold together.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from events.audit.chain_walk import CHAIN_PAGE_SIZE, chain_pages, entry_at, next_link
from events.audit.checkpoints import (
    CheckpointRepository,
    SignedCheckpoint,
    day_end_at,
    ensure_sealed,
)
from events.audit.errors import DayNotSignedError, PackageOutputError
from events.audit.package_verify import (
    EVENTS_FILE,
    MANIFEST_FILE,
    PACKAGE_FORMAT,
    PROCEDURE_FILE,
)
from events.audit.procedure import VERIFY_MD
from events.audit.signing import NO_RECORDED_AT
from events.chain import format_instant, stored_document
from events.store.postgres import PostgresEventStore

PERIOD_DAYS_MAX = 366


def event_line(row: Mapping[str, Any]) -> bytes:
    """The canonical document with `"entry_hash":"<hex>"` added as its last key, and a newline.

    Keeping the document's bytes as they are (rather than re-sorting with the extra key) lets a
    reader see exactly what was hashed; the procedure re-encodes anyway, so order is not relied on.
    """
    document = stored_document(row)
    return b'%s,"entry_hash":"%s"}\n' % (document[:-1], bytes(row["entry_hash"]).hex().encode())


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise PackageOutputError(f"the period ends ({self.last_day}) before it starts")
        days = (self.last_day - self.first_day).days + 1
        if days > PERIOD_DAYS_MAX:
            raise PackageOutputError(f"{days} days in one package, at most {PERIOD_DAYS_MAX}")


@dataclass(frozen=True)
class PackageSummary:
    anchor_position: int
    last_position: int
    event_count: int
    checkpoint_count: int
    events_sha256: str


def build_manifest(
    period: Period,
    anchor: tuple[int, bytes, str],
    last_entry_hash: bytes,
    last_position: int,
    events_sha256: str,
    checkpoints: list[SignedCheckpoint],
) -> dict[str, Any]:
    """manifest.json's content (VERIFY.md describes every field)."""
    anchor_position, anchor_hash, anchor_recorded_at = anchor
    return {
        "format": PACKAGE_FORMAT,
        "period": {
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "zone": period.zone.key,
            "after": format_instant(day_end_at(period.first_day - timedelta(days=1), period.zone)),
            "up_to": format_instant(day_end_at(period.last_day, period.zone)),
        },
        "anchor": {
            "position": anchor_position,
            "entry_hash": anchor_hash.hex(),
            "recorded_at": anchor_recorded_at,
        },
        "first_position": anchor_position + 1,
        "last_position": last_position,
        "event_count": last_position - anchor_position,
        "last_entry_hash": last_entry_hash.hex(),
        "events_file": EVENTS_FILE,
        "events_sha256": events_sha256,
        "checkpoints": [checkpoint.document() for checkpoint in checkpoints],
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def prepare_directory(directory: Path) -> None:
    """A package is written into a new or empty directory, never over another package."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise PackageOutputError(f"{directory} exists and is not an empty directory")
    directory.mkdir(parents=True, exist_ok=True)


async def export_package(
    store: PostgresEventStore,
    repository: CheckpointRepository,
    period: Period,
    directory: Path,
    *,
    now: datetime,
    on_progress: Callable[[int, int], None] | None = None,
) -> PackageSummary:
    """Write the package of `period` into `directory`. Its last day must be sealed and signed:
    that checkpoint signs the last hash, which depends on every line and on the anchor."""
    ensure_sealed(period.last_day, now, period.zone)
    anchor_end = day_end_at(period.first_day - timedelta(days=1), period.zone)
    anchor_position = await store.position_at(anchor_end)
    last_position = await store.position_at(day_end_at(period.last_day, period.zone))
    anchor_hash, anchor_recorded_at = await entry_at(store, anchor_position)
    checkpoints = await repository.between(period.first_day - timedelta(days=1), period.last_day)
    if not any(c.claim.business_date == period.last_day for c in checkpoints):
        raise DayNotSignedError(period.last_day)
    prepare_directory(directory)
    digest = hashlib.sha256()
    position, last_hash = anchor_position, anchor_hash
    total = last_position - anchor_position
    try:
        with (directory / EVENTS_FILE).open("wb") as events:
            async for rows in chain_pages(store, anchor_position, last_position, CHAIN_PAGE_SIZE):
                for row in rows:
                    last_hash = next_link(position, last_hash, row)
                    position += 1
                    line = event_line(row)
                    digest.update(line)
                    events.write(line)
                if on_progress is not None:
                    on_progress(position - anchor_position, total)
    except BaseException:
        # No half package: without its manifest a file of events proves nothing.
        (directory / EVENTS_FILE).unlink(missing_ok=True)
        raise
    recorded_text = (
        NO_RECORDED_AT if anchor_recorded_at is None else format_instant(anchor_recorded_at)
    )
    manifest = build_manifest(
        period,
        (anchor_position, anchor_hash, recorded_text),
        last_hash,
        last_position,
        digest.hexdigest(),
        checkpoints,
    )
    write_json(directory / MANIFEST_FILE, manifest)
    (directory / PROCEDURE_FILE).write_text(VERIFY_MD, encoding="utf-8")
    return PackageSummary(
        anchor_position, last_position, total, len(checkpoints), digest.hexdigest()
    )
