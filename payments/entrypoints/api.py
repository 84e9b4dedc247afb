"""What the payments routes share: the services they call (kept on app.state.payments by the
composition root), how a route gets them, and the context a command runs in."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from events.clock_and_ids import Clock, IdGenerator
from events.store.ports import EventStore
from payments.adapters.evidence import EvidenceStore
from payments.adapters.gateway.ports import PaymentGateway
from payments.adapters.payment_views import PaymentQueries
from payments.service.handlers import PaymentsService
from payments.service.ports import Idempotency
from payments.service.refunds import RefundsService
from payments.service.streams import CommandContext
from schemas.api.auth import Principal, Role

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:\-]{8,200}$"
GATEWAY_PRINCIPAL = Principal(subject="gateway", role=Role.SYSTEM)


@dataclass(frozen=True)
class PaymentsApi:
    """What the routes use; built by the composition root and kept on app.state.payments."""

    payments: PaymentsService
    refunds: RefundsService
    queries: PaymentQueries
    evidence: EvidenceStore
    gateway: PaymentGateway
    store: EventStore
    clock: Clock
    new_ids: Callable[[], IdGenerator]


async def payments_api(request: Request) -> PaymentsApi:
    api: PaymentsApi = request.app.state.payments
    return api


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Unique per intended action; a retry sends the same key and body.",
    ),
]
Api = Annotated[PaymentsApi, Depends(payments_api)]


def command_context(
    api: PaymentsApi, principal: Principal, idempotency: Idempotency | None = None
) -> CommandContext:
    return CommandContext(
        principal=principal,
        correlation_id=uuid.uuid4(),
        ids=api.new_ids(),
        idempotency=idempotency,
    )
