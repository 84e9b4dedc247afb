"""What the payment use cases need from the outside world, as Protocols."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class CheckoutOrder:
    order_ref: str
    amount_minor: int
    description: str
    created_at: datetime
    expires_at: datetime
    client_ip: str
    locale: str = "vn"


class CheckoutGateway(Protocol):
    """The part of a payment gateway the use cases call: where to send the citizen."""

    @property
    def name(self) -> str: ...

    def checkout_url(self, order: CheckoutOrder) -> str: ...


@dataclass
class Idempotency:
    """The client's Idempotency-Key, scoped to the caller and route, and the request's hash.
    `recorded` turns true once this request's receipt is stored with its events: then no earlier
    request held the key, and the answer needs no look-up."""

    scope: str
    key: str
    request_hash: bytes
    recorded: bool = False


class ExpiryCandidates(Protocol):
    """Payments that may be past their deadline (a read model; each is re-checked on its stream)."""

    async def overdue_payment_ids(self, now: datetime, limit: int) -> list[UUID]: ...
