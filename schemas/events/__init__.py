"""Versioned event payload models, grouped by the bounded context that owns (and publishes) them."""

from schemas.envelope import EventPayload
from schemas.events import payments_v1, reconciliation_v1, reconciliation_v2

# Every payload model the system may store, by the context whose Kafka topic carries it.
EVENT_MODELS_BY_CONTEXT: dict[str, tuple[type[EventPayload], ...]] = {
    "payments": payments_v1.MODELS,
    "reconciliation": reconciliation_v1.MODELS + reconciliation_v2.MODELS,
}
