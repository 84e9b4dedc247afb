"""Refunds, refund proposals, late captures and closing dossiers (reject / withdraw)."""

from uuid import UUID

from events.clock_and_ids import Clock
from events.store.ports import AppendRequest
from payments.domain.dossier import Dossier, decide_closing, evolve_dossier
from payments.domain.payment import (
    decide_accept_late_capture,
    decide_refund,
    decide_refund_proposal,
)
from payments.domain.suspense import decide_flagged_money_refund
from payments.service.access import (
    require_owner,
    require_read,
    require_refunder,
    require_unit_clerk,
)
from payments.service.money import commit_payment_events
from payments.service.streams import (
    CommandContext,
    Streams,
    dossier_stream,
    payment_stream,
    with_retries,
)
from schemas.api.auth import Role
from schemas.api.payments import (
    CloseDossierRequest,
    DossierView,
    FlaggedMoneyRefundRequest,
    PaymentView,
    RefundRequest,
)
from schemas.events.payments_v1 import RefundSource


class RefundsService:
    def __init__(self, streams: Streams, clock: Clock) -> None:
        self.streams = streams
        self._clock = clock

    async def refund(
        self, context: CommandContext, payment_id: UUID, request: RefundRequest
    ) -> PaymentView:
        """A citizen asks (a proposal); a clerk of the unit or finance refunds (or approves)."""

        async def attempt() -> PaymentView:
            version, state = await self.streams.payment(payment_id)
            if context.principal.role == Role.CITIZEN:
                require_owner(context.principal, state.citizen_id, "ask for a refund")
                events = decide_refund_proposal(
                    state,
                    proposal_id=context.ids.next(),
                    amount_minor=request.amount_minor,
                    source=RefundSource.CITIZEN_REQUEST,
                    reason=request.reason,
                )
            else:
                require_refunder(context.principal, state)
                events = decide_refund(
                    state,
                    refund_id=context.ids.next(),
                    amount_minor=request.amount_minor,
                    reason=request.reason,
                    approved_by=context.principal.subject,
                    proposal_id=request.proposal_id,
                )
            return await commit_payment_events(
                self.streams, self._clock, context, version, state, events
            )

        return await with_retries(attempt)

    async def refund_flagged_money(
        self,
        context: CommandContext,
        payment_id: UUID,
        evidence_id: UUID,
        request: FlaggedMoneyRefundRequest,
    ) -> PaymentView:
        """A clerk of the unit or finance gives back money a flagged callback moved."""

        async def attempt() -> PaymentView:
            version, state = await self.streams.payment(payment_id)
            require_refunder(context.principal, state)
            events = decide_flagged_money_refund(
                state,
                evidence_id=evidence_id,
                refund_id=context.ids.next(),
                reason=request.reason,
                approved_by=context.principal.subject,
            )
            return await commit_payment_events(
                self.streams, self._clock, context, version, state, events
            )

        return await with_retries(attempt)

    async def accept_late_capture(
        self, context: CommandContext, payment_id: UUID, request: CloseDossierRequest
    ) -> PaymentView:
        async def attempt() -> PaymentView:
            version, state = await self.streams.payment(payment_id)
            require_refunder(context.principal, state)
            events = decide_accept_late_capture(state, context.principal.subject, request.reason)
            return await commit_payment_events(
                self.streams, self._clock, context, version, state, events
            )

        return await with_retries(attempt)

    async def close_dossier(
        self,
        context: CommandContext,
        dossier_id: UUID,
        request: CloseDossierRequest,
        *,
        reject: bool,
    ) -> DossierView:
        """Reject (a clerk of the unit) or withdraw (the citizen); money paid gets a refund
        proposal in the same transaction, for a clerk to approve."""

        async def attempt() -> DossierView:
            dossier_version, dossier = await self.streams.dossier(dossier_id)
            if reject:
                require_unit_clerk(context.principal, dossier.unit_code, "reject this dossier")
            else:
                require_owner(context.principal, dossier.citizen_id, "withdraw this dossier")
            payment_version, payment = 0, None
            if dossier.payment_id is not None:
                payment_version, payment = await self.streams.payment(dossier.payment_id)
            dossier_events, payment_events = decide_closing(
                dossier,
                payment,
                rejected_by=context.principal.subject if reject else None,
                reason=request.reason,
                proposal_id=context.ids.next(),
            )
            now = self._clock.now()
            requests = [
                AppendRequest(
                    dossier_stream(dossier_id),
                    dossier_version,
                    self.streams.new_events(context, dossier_events, now),
                )
            ]
            if payment is not None:
                requests.append(
                    AppendRequest(
                        payment_stream(payment.payment_id),
                        payment_version,
                        self.streams.new_events(context, payment_events, now),
                    )
                )
            closed = dossier
            for event in dossier_events:
                closed = evolve_dossier(closed, event)
            response = dossier_view(closed)
            await self.streams.commit(context, requests, response)
            return response

        return await with_retries(attempt)

    async def dossier(self, context: CommandContext, dossier_id: UUID) -> DossierView:
        _, dossier = await self.streams.dossier(dossier_id)
        require_read(context.principal, dossier.citizen_id, dossier.unit_code, "dossier")
        return dossier_view(dossier)


def dossier_view(dossier: Dossier) -> DossierView:
    return DossierView(
        dossier_id=dossier.dossier_id,
        citizen_id=dossier.citizen_id,
        procedure_code=dossier.procedure_code,
        unit_code=dossier.unit_code,
        channel=dossier.channel,
        status=dossier.status.value,
        payment_id=dossier.payment_id,
    )
