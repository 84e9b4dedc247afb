"""The dossier aggregate: filing (which fixes the fee and opens the payment), rejection, withdrawal.

Filing is decided here from the fee schedule and the unit directory, so the amount a citizen owes
is computed by one pure function that a replay can run again with the recorded schedule version.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from payments.domain.errors import InvalidTransitionError, PaymentsDomainError
from payments.domain.fee_schedule import FeeSchedule, UnitDirectory
from payments.domain.payment import (
    HOLDS_MONEY,
    OPEN_FOR_PAYMENT,
    Payment,
    decide_cancel,
    decide_refund_proposal,
)
from schemas.envelope import EventPayload
from schemas.events.payments_v1 import (
    Channel,
    DossierFiled,
    DossierRejected,
    DossierWithdrawn,
    PaymentRequested,
    RefundSource,
)
from schemas.money import Money, PositiveMoney
from schemas.time import business_date


class DossierStatus(StrEnum):
    FILED = "filed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Dossier:
    dossier_id: UUID
    citizen_id: str
    unit_code: str
    agency_code: str
    procedure_code: str
    channel: Channel
    payment_id: UUID | None
    status: DossierStatus


@dataclass(frozen=True)
class FileDossier:
    dossier_id: UUID
    payment_id: UUID
    citizen_id: str
    procedure_code: str
    unit_code: str
    channel: Channel
    quantity: int


class UnitLevelMismatchError(PaymentsDomainError):
    code = "unit_level_mismatch"


@dataclass(frozen=True)
class Filing:
    dossier_events: list[EventPayload]
    payment_events: list[EventPayload]  # empty for a free procedure


def decide_filing(
    command: FileDossier,
    schedule: FeeSchedule,
    units: UnitDirectory,
    now: datetime,
    payment_window: timedelta,
) -> Filing:
    """Price the dossier from the schedule in effect on today's business date."""
    unit = units.unit(command.unit_code)
    priced = schedule.price(command.procedure_code, business_date(now), command.quantity)
    procedure = priced.procedure
    if unit.level != procedure.administrative_level:
        raise UnitLevelMismatchError(
            f"procedure {procedure.code} is handled at {procedure.administrative_level.value} "
            f"level, unit {unit.code} is a {unit.level.value}",
            field="unit_code",
        )
    fee_bearing = priced.amount_minor > 0
    filed = DossierFiled(
        dossier_id=command.dossier_id,
        citizen_id=command.citizen_id,
        procedure_code=procedure.code,
        agency_code=procedure.agency_code,
        unit_code=unit.code,
        administrative_level=unit.level,
        channel=command.channel,
        quantity=command.quantity,
        fee=Money(amount_minor=priced.amount_minor),
        schedule_version=priced.schedule_version,
        payment_id=command.payment_id if fee_bearing else None,
    )
    if not fee_bearing:
        return Filing([filed], [])
    requested = PaymentRequested(
        payment_id=command.payment_id,
        dossier_id=command.dossier_id,
        citizen_id=command.citizen_id,
        procedure_code=procedure.code,
        agency_code=procedure.agency_code,
        unit_code=unit.code,
        administrative_level=unit.level,
        channel=command.channel,
        quantity=command.quantity,
        amount=PositiveMoney(amount_minor=priced.amount_minor),
        schedule_version=priced.schedule_version,
        expires_at=now + payment_window,
    )
    return Filing([filed], [requested])


def evolve_dossier(state: Dossier | None, event: EventPayload) -> Dossier:
    match event:
        case DossierFiled():
            return Dossier(
                dossier_id=event.dossier_id,
                citizen_id=event.citizen_id,
                unit_code=event.unit_code,
                agency_code=event.agency_code,
                procedure_code=event.procedure_code,
                channel=event.channel,
                payment_id=event.payment_id,
                status=DossierStatus.FILED,
            )
        case DossierRejected() if state is not None:
            return replace(state, status=DossierStatus.REJECTED)
        case DossierWithdrawn() if state is not None:
            return replace(state, status=DossierStatus.WITHDRAWN)
    raise ValueError(f"{type(event).__name__} cannot apply to dossier {state}")


def fold_dossier(events: list[EventPayload]) -> Dossier | None:
    state: Dossier | None = None
    for event in events:
        state = evolve_dossier(state, event)
    return state


def decide_closing(
    dossier: Dossier,
    payment: Payment | None,
    *,
    rejected_by: str | None,
    reason: str,
    proposal_id: UUID,
) -> tuple[list[EventPayload], list[EventPayload]]:
    """Reject (an officer) or withdraw (the citizen) a dossier; money already paid gets a refund
    proposal for a clerk to approve. Returns (dossier events, payment events)."""
    if dossier.status != DossierStatus.FILED:
        command = "reject" if rejected_by else "withdraw"
        raise InvalidTransitionError(f"{command} dossier", dossier.status.value)
    closing: EventPayload = (
        DossierRejected(dossier_id=dossier.dossier_id, reason=reason, rejected_by=rejected_by)
        if rejected_by
        else DossierWithdrawn(dossier_id=dossier.dossier_id, reason=reason)
    )
    closed_because = f"dossier {'rejected' if rejected_by else 'withdrawn'}: {reason}"[:500]
    payment_events: list[EventPayload] = []
    if payment is None:
        return [closing], payment_events
    if payment.status in OPEN_FOR_PAYMENT:
        # Nothing paid yet: the fee is no longer owed. Money that still arrives from an open
        # checkout is a late payment (captured, flagged, a refund proposed), not a fee.
        payment_events = decide_cancel(payment, closed_because)
    elif payment.status in HOLDS_MONEY:
        unclaimed = payment.refundable_minor - sum(payment.open_proposals.values())
        if unclaimed > 0:  # what earlier refund proposals do not already claim
            payment_events = decide_refund_proposal(
                payment,
                proposal_id=proposal_id,
                amount_minor=unclaimed,
                source=(
                    RefundSource.DOSSIER_REJECTED if rejected_by else RefundSource.DOSSIER_WITHDRAWN
                ),
                reason=closed_because,
            )
    return [closing], payment_events
