"""Write-once storage of raw gateway callback evidence (see migration 0101)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from events.sqlfiles import load_statements

SQL = load_statements("payments.adapters.sql", "payments.sql")


@dataclass(frozen=True)
class CallbackEvidence:
    evidence_id: UUID
    received_at: datetime
    gateway: str
    channel: str  # "ipn" | "status_query"
    order_ref: str
    raw_request: bytes
    headers: dict[str, str]
    secret_version: str
    verification_result: str


class EvidenceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, evidence: CallbackEvidence) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                SQL["insert_evidence"],
                evidence.evidence_id, evidence.received_at, evidence.gateway, evidence.channel,
                evidence.order_ref, evidence.raw_request, evidence.headers,
                evidence.secret_version, evidence.verification_result,
            )  # fmt: skip
