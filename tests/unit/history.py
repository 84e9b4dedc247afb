"""Recorded events for unit tests: a simulated history turned into envelopes, without a store."""

from datetime import UTC, datetime

from events.chain import GENESIS_HASH
from events.registry import default_registry
from events.store.append_plan import plan_append
from events.store.ports import ChainHead
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.simulation import Simulation
from schemas.envelope import EventEnvelope, EventPayload

START_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def simulated_history(
    dossiers: int, seed: int = 3, start_at: datetime = START_AT
) -> list[tuple[EventEnvelope, EventPayload]]:
    """(envelope, typed payload) of a simulated day, positioned as the store would."""
    registry = default_registry()
    simulation = Simulation(load_fee_schedule(), load_units(), seed=seed, start_at=start_at)
    head = ChainHead(0, GENESIS_HASH, None)
    versions: dict[str, int] = {}
    recorded: list[tuple[EventEnvelope, EventPayload]] = []
    for batch in simulation.batches(dossiers, 25):
        plan = plan_append(batch, head, start_at, versions, {})
        head = plan.head
        for request in batch:
            versions[request.stream_id] = request.expected_version + len(request.events)
        for row in plan.row_mappings():
            row.pop("entry_hash")
            row.pop("payload_json")
            envelope = EventEnvelope.model_validate(row)
            recorded.append((envelope, registry.parse(envelope)))
    return recorded
