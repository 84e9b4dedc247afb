"""Signing the chain's head at the end of a business day, and the write-once table that keeps it.

A day is sealed DAY_SEAL_DELAY after its local midnight: an append takes its `recorded_at` under
the head lock but commits a moment later, and its transaction is bounded by the command timeout,
so after the delay no event recorded in that day can still appear. Before signing, the rows since
the previous checkpoint (or since the genesis) are re-hashed: the province never signs a head
that does not follow from what it signed before.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from events.audit.chain_walk import entry_at, rehash_window
from events.audit.errors import ChainBrokenError, CheckpointConflictError, DayNotSealedError
from events.audit.signing import (
    CHECKPOINT_FORMAT,
    CheckpointClaim,
    CheckpointSigner,
    claim_for,
    encode_base64,
    signature_problem,
)
from events.chain import GENESIS_HASH
from events.errors import InfrastructureError, ensure
from events.sqlfiles import load_statements
from events.store.postgres import PostgresEventStore
from schemas.time import business_date

SQL = load_statements("events.audit.sql", "checkpoints.sql")
DAY_SEAL_DELAY = timedelta(minutes=5)
CHECKPOINTS_MAX = 100_000  # rows read at once: one a day is 270 years
ONE_MICROSECOND = timedelta(microseconds=1)


def day_end_at(day: date, zone: ZoneInfo) -> datetime:
    """The last instant of a local business day (timestamptz has microsecond resolution), UTC."""
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    end = (next_midnight - ONE_MICROSECOND).astimezone(UTC)
    ensure(business_date(end, zone) == day, f"the end of {day} falls on another day")
    return end


def ensure_sealed(day: date, now: datetime, zone: ZoneInfo) -> None:
    """Refuse a day whose head could still move (not ended, or ended less than the delay ago)."""
    sealed_at = day_end_at(day, zone) + ONE_MICROSECOND + DAY_SEAL_DELAY
    if now < sealed_at:
        raise DayNotSealedError(day, sealed_at.astimezone(zone).isoformat())


@dataclass(frozen=True)
class SignedCheckpoint:
    claim: CheckpointClaim
    public_key: bytes
    signature: bytes

    @classmethod
    def from_row(cls, row: Any) -> "SignedCheckpoint":
        claim = claim_for(
            row["business_date"],
            int(row["position"]),
            bytes(row["head_hash"]),
            row["head_recorded_at"],
            row["key_id"],
        )
        return cls(claim, bytes(row["public_key"]), bytes(row["signature"]))

    def document(self) -> dict[str, Any]:
        """The JSON form (checkpoint files and the audit package's manifest; docs/audit.md)."""
        claim = self.claim
        return {
            "format": CHECKPOINT_FORMAT,
            "business_date": claim.business_date.isoformat(),
            "position": claim.position,
            "head_hash": claim.head_hash.hex(),
            "head_recorded_at": claim.head_recorded_at,
            "key_id": claim.key_id,
            "public_key": encode_base64(self.public_key),
            "signature": encode_base64(self.signature),
            "message": claim.message().decode("utf-8"),
        }


class CheckpointRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, checkpoint: SignedCheckpoint, head_recorded_at: datetime | None) -> bool:
        """True if stored now, False if a checkpoint for that day already existed."""
        claim = checkpoint.claim
        rows = await self._fetch(
            SQL["insert_checkpoint"],
            claim.business_date,
            claim.position,
            claim.head_hash,
            head_recorded_at,
            claim.key_id,
            checkpoint.public_key,
            checkpoint.signature,
        )
        return bool(rows)

    async def between(self, first_day: date, last_day: date) -> list[SignedCheckpoint]:
        rows = await self._fetch(SQL["checkpoints_between"], first_day, last_day, CHECKPOINTS_MAX)
        return [SignedCheckpoint.from_row(row) for row in rows]

    async def all(self) -> list[SignedCheckpoint]:
        return await self.between(date.min, date.max)

    async def latest_at_or_below(self, position: int) -> SignedCheckpoint | None:
        rows = await self._fetch(SQL["latest_at_or_below"], position)
        return SignedCheckpoint.from_row(rows[0]) if rows else None

    async def _fetch(self, statement: str, *arguments: Any) -> list[Any]:
        try:
            async with self._pool.acquire() as connection:
                return list(await connection.fetch(statement, *arguments))
        except asyncpg.PostgresError as error:
            raise InfrastructureError(f"checkpoint table access failed: {error}") from error


@dataclass(frozen=True)
class SealOutcome:
    checkpoint: SignedCheckpoint
    created: bool  # False: an identical checkpoint was stored already (an idempotent re-run)


async def _trusted_anchor(
    store: PostgresEventStore,
    repository: CheckpointRepository,
    position: int,
    trusted: dict[str, bytes],
) -> tuple[int, bytes]:
    """Where re-hashing may start: the newest checkpoint at or below `position`, once its
    signature verifies and the store still holds its signed hash; the genesis when there is none."""
    previous = await repository.latest_at_or_below(position)
    if previous is None:
        return 0, GENESIS_HASH
    claim = previous.claim
    problem = signature_problem(claim, previous.signature, trusted)
    if problem is not None:
        raise ChainBrokenError(
            claim.position, f"the checkpoint of {claim.business_date} does not verify ({problem})"
        )
    stored_hash, _ = await entry_at(store, claim.position)
    if stored_hash != claim.head_hash:
        raise ChainBrokenError(
            claim.position,
            f"the stored hash is not the one signed for {claim.business_date}: history was "
            "rewritten after it was signed; run `fees audit verify-checkpoints`",
        )
    return claim.position, claim.head_hash


async def seal_day(
    store: PostgresEventStore,
    repository: CheckpointRepository,
    signer: CheckpointSigner,
    day: date,
    *,
    now: datetime,
    zone: ZoneInfo,
    trusted: dict[str, bytes],
) -> SealOutcome:
    """Sign the chain's head as of the end of `day` and store it (write-once, idempotent)."""
    ensure_sealed(day, now, zone)
    position = await store.position_at(day_end_at(day, zone))
    head_hash, head_recorded_at = await entry_at(store, position)
    anchor_position, anchor_hash = await _trusted_anchor(store, repository, position, trusted)
    rehashed = await rehash_window(store, anchor_position, anchor_hash, position)
    ensure(rehashed == head_hash, "a re-hashed window must end at the stored head hash")
    claim = claim_for(day, position, head_hash, head_recorded_at, signer.key_id)
    checkpoint = SignedCheckpoint(claim, signer.public_key, signer.sign(claim))
    if await repository.insert(checkpoint, head_recorded_at):
        return SealOutcome(checkpoint, created=True)
    stored = await repository.between(day, day)
    ensure(len(stored) == 1, f"a checkpoint for {day} was refused but cannot be read back")
    differences = _differences(stored[0].claim, claim)
    if differences:
        raise CheckpointConflictError(day, differences)
    return SealOutcome(stored[0], created=False)


def _differences(stored: CheckpointClaim, fresh: CheckpointClaim) -> list[str]:
    names = ("position", "head_hash", "head_recorded_at", "key_id")
    return [
        f"{name}: stored {_text(getattr(stored, name))}, now {_text(getattr(fresh, name))}"
        for name in names
        if getattr(stored, name) != getattr(fresh, name)
    ]


def _text(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)
