"""The payment use cases. Each: load the streams, decide with pure rules, append with the
expected versions (retrying a lost race), and answer. No table is written behind the events."""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from events.clock_and_ids import Clock
from events.errors import ensure
from events.store.ports import NO_STREAM, AppendRequest
from payments.domain.callbacks import (
    CallbackReply,
    GatewayResult,
    decide_gateway_result,
    decide_unknown_order,
)
from payments.domain.dossier import FileDossier, decide_filing
from payments.domain.errors import ForbiddenError
from payments.domain.fee_schedule import FeeSchedule, UnitDirectory
from payments.domain.payment import (
    Payment,
    decide_checkout,
    decide_counter_payment,
    decide_expiry,
    decide_reduction,
    fold,
)
from payments.service.access import require_owner, require_read, require_unit_clerk
from payments.service.money import commit_payment_events
from payments.service.ports import CheckoutGateway, CheckoutOrder
from payments.service.streams import (
    CommandContext,
    Streams,
    dossier_stream,
    payment_stream,
    payment_view,
    with_retries,
)
from schemas.api.auth import Role
from schemas.api.payments import (
    CheckoutResponse,
    CounterPaymentRequest,
    DossierCreated,
    FileDossierRequest,
    PaymentView,
    ReductionRequest,
)
from schemas.events.payments_v1 import (
    Channel,
    CheckoutStarted,
    DossierFiled,
    GatewayCallbackFlagged,
)

ORDER_REF_HEX_LENGTH = 32


@dataclass(frozen=True)
class PaymentWindows:
    payment: timedelta  # from filing until an unpaid online payment expires
    gateway: timedelta  # how long one gateway checkout stays open


def order_ref_for(payment_id: UUID, attempt: int) -> str:
    """Our own order reference: the payment id and the attempt. Ours to parse, nobody else's."""
    return f"{payment_id.hex}{attempt:02d}"


def payment_id_of(order_ref: str) -> UUID | None:
    try:
        return UUID(hex=order_ref[:ORDER_REF_HEX_LENGTH])
    except ValueError:
        return None


class PaymentsService:
    def __init__(
        self,
        streams: Streams,
        clock: Clock,
        schedule: FeeSchedule,
        units: UnitDirectory,
        gateway: CheckoutGateway,
        windows: PaymentWindows,
    ) -> None:
        self.streams = streams
        self._clock = clock
        self._schedule = schedule
        self._units = units
        self._gateway = gateway
        self._windows = windows

    async def file_dossier(
        self, context: CommandContext, request: FileDossierRequest
    ) -> DossierCreated:
        principal = context.principal
        if principal.role == Role.CITIZEN:
            citizen_id, channel = principal.subject, Channel.ONLINE
        elif principal.role == Role.CLERK and request.citizen_id is not None:
            require_unit_clerk(principal, request.unit_code, "file a counter dossier here")
            citizen_id, channel = request.citizen_id, Channel.COUNTER
        else:
            raise ForbiddenError(
                "dossiers are filed by citizens, or by a clerk naming the citizen_id",
                field="citizen_id",
            )
        now = self._clock.now()
        command = FileDossier(
            dossier_id=context.ids.next(),
            payment_id=context.ids.next(),
            citizen_id=citizen_id,
            procedure_code=request.procedure_code,
            unit_code=request.unit_code,
            channel=channel,
            quantity=request.quantity,
        )
        filing = decide_filing(command, self._schedule, self._units, now, self._windows.payment)
        payment = fold(filing.payment_events)
        filed = filing.dossier_events[0]
        ensure(isinstance(filed, DossierFiled), "decide_filing starts with DossierFiled")
        assert isinstance(filed, DossierFiled)  # for the type checker; ensure() above
        response = DossierCreated(
            dossier_id=command.dossier_id,
            procedure_code=command.procedure_code,
            unit_code=command.unit_code,
            channel=channel,
            fee_minor=payment.due_minor if payment else 0,
            schedule_version=filed.schedule_version,
            payment=None if payment is None else payment_view(payment, 1),
            next_step=_next_step(payment, channel),
        )
        requests = [
            AppendRequest(
                dossier_stream(command.dossier_id),
                NO_STREAM,
                self.streams.new_events(context, filing.dossier_events, now),
            ),
            AppendRequest(
                payment_stream(command.payment_id),
                NO_STREAM,
                self.streams.new_events(context, filing.payment_events, now),
            ),
        ]
        await self.streams.commit(context, requests, response, status_code=201)
        return response

    async def checkout(
        self, context: CommandContext, payment_id: UUID, client_ip: str, locale: str
    ) -> CheckoutResponse:
        async def attempt() -> CheckoutResponse:
            version, state = await self.streams.payment(payment_id)
            require_owner(context.principal, state.citizen_id, "pay this fee online")
            now = self._clock.now()
            order_ref = order_ref_for(payment_id, state.attempts + 1)
            events = decide_checkout(
                state,
                gateway=self._gateway.name,
                order_ref=order_ref,
                now=now,
                gateway_expires_at=now + self._windows.gateway,
            )
            started = events[0]
            ensure(isinstance(started, CheckoutStarted), "decide_checkout returns CheckoutStarted")
            assert isinstance(started, CheckoutStarted)  # for the type checker; ensure() above
            url = self._gateway.checkout_url(
                CheckoutOrder(
                    order_ref=order_ref,
                    amount_minor=started.amount.amount_minor,
                    description=f"Thanh toan phi ho so {state.dossier_id.hex[:12]}",
                    created_at=now,
                    expires_at=started.gateway_expires_at,
                    client_ip=client_ip,
                    locale=locale,
                )
            )
            response = CheckoutResponse(
                payment_id=payment_id,
                order_ref=order_ref,
                redirect_url=url,
                expires_at=started.gateway_expires_at,
            )
            request = AppendRequest(
                payment_stream(payment_id), version, self.streams.new_events(context, events, now)
            )
            await self.streams.commit(context, [request], response)
            return response

        return await with_retries(attempt)

    async def record_counter_payment(
        self, context: CommandContext, payment_id: UUID, request: CounterPaymentRequest
    ) -> PaymentView:
        async def attempt() -> PaymentView:
            version, state = await self.streams.payment(payment_id)
            require_unit_clerk(context.principal, state.unit_code, "record a counter payment")
            now = self._clock.now()
            events = decide_counter_payment(
                state,
                method=request.method,
                amount_minor=request.amount_minor,
                reference=request.reference,
                now=now,
            )
            return await commit_payment_events(
                self.streams, self._clock, context, version, state, events
            )

        return await with_retries(attempt)

    async def grant_reduction(
        self, context: CommandContext, payment_id: UUID, request: ReductionRequest
    ) -> PaymentView:
        async def attempt() -> PaymentView:
            version, state = await self.streams.payment(payment_id)
            require_unit_clerk(context.principal, state.unit_code, "reduce a fee")
            events = decide_reduction(
                state, request.amount_minor, request.legal_basis, context.principal.subject
            )
            return await commit_payment_events(
                self.streams, self._clock, context, version, state, events
            )

        return await with_retries(attempt)

    async def handle_gateway_result(
        self, result: GatewayResult, evidence_id: UUID, context: CommandContext
    ) -> CallbackReply:
        """A verified server-to-server result (IPN or status query): the only way to capture."""
        payment_id = payment_id_of(result.order_ref)

        async def attempt() -> CallbackReply:
            now = self._clock.now()
            if payment_id is None:
                return await self._record_unknown_order(result, evidence_id, context)
            version, events = await self.streams.load(payment_stream(payment_id))
            state = fold(events)
            if state is None:
                return await self._record_unknown_order(result, evidence_id, context)
            decision = decide_gateway_result(
                state, result, evidence_id=evidence_id, proposal_id=context.ids.next(), now=now
            )
            await commit_payment_events(
                self.streams, self._clock, context, version, state, decision.events
            )
            return decision.reply

        return await with_retries(attempt)

    async def _record_unknown_order(
        self, result: GatewayResult, evidence_id: UUID, context: CommandContext
    ) -> CallbackReply:
        stream = f"gatewayorder-{result.order_ref}"
        version, earlier = await self.streams.load(stream)
        flagged_before = any(
            isinstance(event, GatewayCallbackFlagged) and event.moved_money is not None
            for event in earlier
        )
        decision = decide_unknown_order(result, evidence_id, money_flagged_before=flagged_before)
        if not decision.events:
            return decision.reply
        now = self._clock.now()
        request = AppendRequest(
            stream, version, self.streams.new_events(context, decision.events, now)
        )
        await self.streams.commit(context, [request])
        return decision.reply

    async def expire_overdue(self, context: CommandContext, payment_ids: list[UUID]) -> int:
        """Expire each payment that is still open past its deadline; returns how many."""
        expired = 0
        for payment_id in payment_ids:

            async def attempt(payment_id: UUID = payment_id) -> int:
                version, state = await self.streams.payment(payment_id)
                now = self._clock.now()
                events = decide_expiry(state, now)
                if events:
                    request = AppendRequest(
                        payment_stream(payment_id),
                        version,
                        self.streams.new_events(context, events, now),
                    )
                    await self.streams.commit(context, [request])
                return len(events)

            expired += await with_retries(attempt)
        return expired

    async def payment(self, context: CommandContext, payment_id: UUID) -> PaymentView:
        version, state = await self.streams.payment(payment_id)
        require_read(context.principal, state.citizen_id, state.unit_code, "payment")
        return payment_view(state, version)


def _next_step(payment: Payment | None, channel: Channel) -> str:
    if payment is None:
        return "no fee: the dossier goes straight to processing"
    if channel == Channel.ONLINE:
        return f"pay online: POST /payments/{payment.payment_id}/checkout"
    return "pay at the counter: the clerk records it with POST /payments/{id}/counter"
