"""What an auditor asks of the history: the full trail of a payment or dossier, and state as it
stood at a given time (an account's balance, a payment's state, a day's reconciliation).

"As it stood at time T" means: as the events recorded up to T say, i.e. up to the store's
position at T. The trail reads the store itself; balances read the journal, whose entries carry
the position of the event that posted them; a payment is folded from its own stream cut at T.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from events.registry import EventRegistry
from events.store.postgres import PostgresEventStore
from payments.domain.payment import Payment, fold
from schemas.envelope import EventEnvelope

TRAIL_EVENTS_MAX = 10_000
BALANCE_AT = """
SELECT coalesce(sum(p.amount_minor), 0)::bigint AS balance_minor, count(*) AS posting_count
FROM journal_postings p JOIN journal_entries e USING (event_id)
WHERE p.account_code = $1 AND e.position <= $2"""
RECONCILIATION_STREAMS_OF_ITEM = """
SELECT DISTINCT 'reconday-' || m.bank_account || '-' || to_char(m.business_date, 'YYYYMMDD')
FROM recon_match_items mi JOIN recon_matches m USING (match_key) WHERE mi.item_id = $1"""


@dataclass(frozen=True)
class TrailEntry:
    position: int
    recorded_at: datetime
    stream_id: str
    stream_version: int
    event_type: str
    actor: str
    correlation_id: UUID
    causation_id: UUID | None
    summary: str


def _summary(envelope: EventEnvelope) -> str:
    payload: dict[str, Any] = envelope.payload
    parts = []
    for name in ("channel", "method", "status", "flag", "reason", "receipt_number", "kind"):
        if name in payload and payload[name] is not None:
            parts.append(f"{name}={payload[name]}")
    for name in ("fee", "amount", "reduction"):
        value = payload.get(name)
        if isinstance(value, dict) and "amount_minor" in value:
            parts.append(f"{name}={value['amount_minor']:,} VND")
    if "matches" in payload:  # a list of matches (v1) or an object of columns (v2)
        matches = payload["matches"]
        parts.append(f"matches={len(matches['stage'] if isinstance(matches, dict) else matches)}")
    return ", ".join(parts)[:160]


async def trail(
    store: PostgresEventStore, pool: asyncpg.Pool, kind: str, identifier: UUID
) -> list[TrailEntry]:
    """A dossier's or a payment's whole history in position order, across its streams: the
    dossier, its payment, and the reconciliation days that settled the payment."""
    streams = [f"{kind}-{identifier}"]
    first = await store.read_stream(streams[0])
    if kind == "dossier":
        streams += [
            f"payment-{envelope.payload['payment_id']}"
            for envelope in first
            if envelope.event_type == "DossierFiled" and envelope.payload.get("payment_id")
        ]
    elif first and first[0].payload.get("dossier_id"):
        streams.insert(0, f"dossier-{first[0].payload['dossier_id']}")
    payment_ids = [UUID(s.removeprefix("payment-")) for s in streams if s.startswith("payment-")]
    envelopes = {e.position: e for stream in streams for e in await store.read_stream(stream)}
    for payment_id in payment_ids:
        for day_stream in await pool.fetch(RECONCILIATION_STREAMS_OF_ITEM, payment_id):
            for envelope in await store.read_stream(day_stream[0]):
                if str(payment_id) in str(envelope.payload):
                    envelopes[envelope.position] = envelope
    ordered = [envelopes[p] for p in sorted(envelopes)][:TRAIL_EVENTS_MAX]
    return [
        TrailEntry(
            e.position, e.recorded_at, e.stream_id, e.stream_version, e.event_type, e.actor,
            e.correlation_id, e.causation_id, _summary(e),
        )
        for e in ordered
    ]  # fmt: skip


async def position_at(store: PostgresEventStore, instant: datetime | None) -> int:
    return (await store.head()).position if instant is None else await store.position_at(instant)


async def balance_at(pool: asyncpg.Pool, account_code: str, position: int) -> tuple[int, int]:
    """(debits minus credits, postings counted) of an account over events up to `position`."""
    row = await pool.fetchrow(BALANCE_AT, account_code, position)
    return int(row["balance_minor"]), int(row["posting_count"])


async def payment_at(
    store: PostgresEventStore, registry: EventRegistry, payment_id: UUID, position: int
) -> Payment | None:
    envelopes = await store.read_stream(f"payment-{payment_id}", to_position=position)
    return fold([registry.parse(envelope) for envelope in envelopes])
