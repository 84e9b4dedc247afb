"""Money that suspense holds for a payment because a flagged callback moved it (the citizen paid
twice, or a wrong amount), and giving it back. Pure, like the rest of the domain."""

from uuid import UUID

from payments.domain.errors import InvalidTransitionError
from payments.domain.payment import Payment
from schemas.envelope import EventPayload
from schemas.events.payments_v1 import FlaggedMoneyRefunded
from schemas.money import PositiveMoney


def decide_flagged_money_refund(
    state: Payment, *, evidence_id: UUID, refund_id: UUID, reason: str, approved_by: str
) -> list[EventPayload]:
    """Give back, whole, the money a flagged callback moved and suspense still holds."""
    held = state.flagged_money.get(evidence_id)
    if held is None:
        raise InvalidTransitionError(
            "refund flagged money of", state.status.value,
            f"no money of callback {evidence_id} is held in suspense (never flagged, or refunded)",
        )  # fmt: skip
    return [
        FlaggedMoneyRefunded(
            payment_id=state.payment_id,
            refund_id=refund_id,
            evidence_id=evidence_id,
            order_ref=held.order_ref,
            gateway=held.gateway,
            amount=PositiveMoney(amount_minor=held.amount_minor),
            reason=reason,
            approved_by=approved_by,
            agency_code=state.agency_code,
            unit_code=state.unit_code,
            procedure_code=state.procedure_code,
        )
    ]
