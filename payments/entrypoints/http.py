"""The payments HTTP API (an APIRouter; the app is built in entrypoints/http.py).

Every POST that a person makes needs an Idempotency-Key: the same key with the same body gets the
first answer back (stored atomically with the events); the same key with another body is refused
with 422 and changes nothing. Gateway callbacks are idempotent by their own rules instead.
"""

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from payments.adapters.evidence import CallbackEvidence
from payments.adapters.payment_views import PaymentFilter
from payments.domain.callbacks import GatewayResult
from payments.domain.errors import ForbiddenError, NotFoundError, PaymentsDomainError
from payments.domain.payment import PaymentStatus, fold
from payments.entrypoints.api import Api, IdempotencyKey, PaymentsApi, command_context
from payments.entrypoints.gateway_http import add_gateway_routes
from payments.service.access import require_read
from payments.service.ports import Idempotency
from payments.service.streams import CommandContext
from schemas.api.auth import Principal, Role
from schemas.api.payments import (
    ApiModel,
    CheckoutRequest,
    CheckoutResponse,
    CloseDossierRequest,
    CounterPaymentRequest,
    DossierCreated,
    DossierView,
    FileDossierRequest,
    FlaggedMoneyRefundRequest,
    PaymentPage,
    PaymentView,
    Problem,
    ReceiptView,
    ReductionRequest,
    RefundRequest,
)
from schemas.events.payments_v1 import ReceiptIssued

CODE_PATTERN = r"^[A-Z0-9][A-Z0-9._\-]{0,63}$"
RECEIPT_NUMBER_PATTERN = r"^[A-Z0-9][A-Z0-9._\-]{0,63}-[0-9]{4}-[0-9]{6,}$"
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem} for status in (400, 401, 403, 404, 409, 422)
}


async def _idempotent(
    request: Request,
    api: PaymentsApi,
    principal: Principal,
    key: str,
    run: Callable[[CommandContext], Awaitable[ApiModel]],
    status_code: int = 200,
) -> Response:
    """Answer a keyed POST once; replays get the stored answer (and a marker header).

    Optimistic: the command runs first, and its events are appended together with the request's
    receipt, so a key answered before makes that append fail whole (DuplicateCommandError) and
    nothing is written twice. The stored answer is looked up only when the command did not store
    its own: it failed (a replay may fail now that the state has moved on), or it appended
    nothing. That saves the look-up round trip of every first request."""
    body = await request.body()
    scope = f"{principal.actor}:{request.method} {request.url.path}"
    request_hash = hashlib.sha256(body).digest()
    idempotency = Idempotency(scope, key, request_hash)
    try:
        result = await run(command_context(api, principal, idempotency))
    except Exception:
        stored = await api.store.find_receipt(scope, key)
        if stored is None:
            raise  # not a replay: the command's own error
    else:
        stored = None if idempotency.recorded else await api.store.find_receipt(scope, key)
        if stored is None:
            return JSONResponse(result.model_dump(mode="json"), status_code=status_code)
    if stored.request_hash != request_hash:
        raise PaymentsDomainError(
            "this Idempotency-Key was used for a different request; use a new key",
            field="Idempotency-Key",
        )
    return JSONResponse(
        stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
    )


def build_router(authenticate: Callable[..., Awaitable[Principal]]) -> APIRouter:
    router = APIRouter(responses=ERRORS)
    Caller = Annotated[Principal, Depends(authenticate)]

    @router.post("/dossiers", status_code=201, response_model=DossierCreated, tags=["dossiers"])
    async def file_dossier(
        body: FileDossierRequest, request: Request, api: Api, caller: Caller, key: IdempotencyKey
    ) -> Response:
        """File a dossier (citizen online, or a clerk at the counter); returns what to pay."""
        return await _idempotent(
            request, api, caller, key, lambda c: api.payments.file_dossier(c, body), 201
        )

    @router.get("/dossiers/{dossier_id}", response_model=DossierView, tags=["dossiers"])
    async def get_dossier(dossier_id: UUID, api: Api, caller: Caller) -> DossierView:
        return await api.refunds.dossier(command_context(api, caller), dossier_id)

    @router.post("/dossiers/{dossier_id}/reject", response_model=DossierView, tags=["dossiers"])
    async def reject_dossier(
        dossier_id: UUID,
        body: CloseDossierRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """A clerk rejects a dossier; a paid fee gets a refund proposal automatically."""
        return await _idempotent(
            request, api, caller, key,
            lambda c: api.refunds.close_dossier(c, dossier_id, body, reject=True),
        )  # fmt: skip

    @router.post("/dossiers/{dossier_id}/withdraw", response_model=DossierView, tags=["dossiers"])
    async def withdraw_dossier(
        dossier_id: UUID,
        body: CloseDossierRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """The citizen withdraws a dossier; a paid fee gets a refund proposal automatically."""
        return await _idempotent(
            request, api, caller, key,
            lambda c: api.refunds.close_dossier(c, dossier_id, body, reject=False),
        )  # fmt: skip

    @router.get("/payments/{payment_id}", response_model=PaymentView, tags=["payments"])
    async def get_payment(payment_id: UUID, api: Api, caller: Caller) -> PaymentView:
        """A payment as its events say now (never stale)."""
        return await api.payments.payment(command_context(api, caller), payment_id)

    @router.get("/payments", response_model=PaymentPage, tags=["payments"])
    async def list_payments(
        api: Api,
        caller: Caller,
        status: PaymentStatus | None = None,
        unit_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
        procedure_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
        # With a time zone (an instant): a naive time would be read in the server's zone.
        requested_from: AwareDatetime | None = None,
        requested_before: AwareDatetime | None = None,
        holds_flagged_money: Annotated[
            bool | None,
            Query(
                description="true: payments whose flagged money (paid twice, a wrong amount) "
                "suspense still holds for a refund"
            ),
        ] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> PaymentPage:
        """Search payments (newest state, may lag the events by milliseconds); cursor paging."""
        citizen_id = caller.subject if caller.role == Role.CITIZEN else None
        if caller.role == Role.CLERK:
            unit_code = caller.unit_code
        where = PaymentFilter(
            status.value if status else None, unit_code, procedure_code, citizen_id,
            requested_from, requested_before, holds_flagged_money,
        )  # fmt: skip
        try:
            ids, next_cursor = await api.queries.page(where, cursor, limit)
        except ValueError as error:
            raise PaymentsDomainError(
                f"cursor is not one this API issued: {error}", field="cursor"
            ) from error
        context = command_context(api, caller)
        items = [await api.payments.payment(context, payment_id) for payment_id in ids]
        return PaymentPage(items=items, next_cursor=next_cursor)

    @router.post(
        "/payments/{payment_id}/checkout", response_model=CheckoutResponse, tags=["payments"]
    )
    async def checkout(
        payment_id: UUID,
        body: CheckoutRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """The citizen starts (or retries) paying online: answers the gateway's redirect URL."""
        client_ip = request.client.host if request.client else "127.0.0.1"
        return await _idempotent(
            request, api, caller, key,
            lambda c: api.payments.checkout(c, payment_id, client_ip, body.locale),
        )  # fmt: skip

    @router.post("/payments/{payment_id}/counter", response_model=PaymentView, tags=["payments"])
    async def counter_payment(
        payment_id: UUID,
        body: CounterPaymentRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """A clerk of the payment's one-stop-shop records cash or POS received at the counter."""
        return await _idempotent(
            request, api, caller, key,
            lambda c: api.payments.record_counter_payment(c, payment_id, body),
        )  # fmt: skip

    @router.post("/payments/{payment_id}/refunds", response_model=PaymentView, tags=["payments"])
    async def refund(
        payment_id: UUID,
        body: RefundRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """Citizen: ask for a refund (a proposal). Clerk of the unit or finance: refund."""
        return await _idempotent(
            request, api, caller, key, lambda c: api.refunds.refund(c, payment_id, body)
        )

    @router.post(
        "/payments/{payment_id}/flagged-money/{evidence_id}/refund",
        response_model=PaymentView,
        tags=["payments"],
    )
    async def refund_flagged_money(
        payment_id: UUID,
        evidence_id: UUID,
        body: FlaggedMoneyRefundRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """Clerk of the unit or finance: give back, whole, money a flagged callback moved (the
        citizen paid twice, or a wrong amount) that suspense holds; see `flagged_money_held`."""
        return await _idempotent(
            request, api, caller, key,
            lambda c: api.refunds.refund_flagged_money(c, payment_id, evidence_id, body),
        )  # fmt: skip

    @router.post("/payments/{payment_id}/reductions", response_model=PaymentView, tags=["payments"])
    async def reduce_fee(
        payment_id: UUID,
        body: ReductionRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """A clerk records an exemption or reduction with its legal basis, before payment."""
        return await _idempotent(
            request, api, caller, key, lambda c: api.payments.grant_reduction(c, payment_id, body)
        )

    @router.post(
        "/payments/{payment_id}/late-capture/accept", response_model=PaymentView, tags=["payments"]
    )
    async def accept_late_capture(
        payment_id: UUID,
        body: CloseDossierRequest,
        request: Request,
        api: Api,
        caller: Caller,
        key: IdempotencyKey,
    ) -> Response:
        """Finance applies money that arrived after expiry to the dossier instead of refunding."""
        return await _idempotent(
            request, api, caller, key,
            lambda c: api.refunds.accept_late_capture(c, payment_id, body),
        )  # fmt: skip

    @router.get("/receipts/{receipt_number}", response_model=ReceiptView, tags=["payments"])
    async def get_receipt(
        receipt_number: Annotated[str, Path(pattern=RECEIPT_NUMBER_PATTERN)],
        api: Api,
        caller: Caller,
    ) -> ReceiptView:
        payment_id = await api.queries.payment_by_receipt(receipt_number)
        if payment_id is None:
            raise NotFoundError(f"no receipt {receipt_number}", receipt_number=receipt_number)
        _, events = await api.payments.streams.load(f"payment-{payment_id}")  # one read
        state = fold(events)
        if state is None:
            raise NotFoundError(f"no receipt {receipt_number}", receipt_number=receipt_number)
        require_read(caller, state.citizen_id, state.unit_code, "receipt")
        issued = next(event for event in events if isinstance(event, ReceiptIssued))
        return ReceiptView(
            receipt_number=receipt_number, payment_id=payment_id, dossier_id=state.dossier_id,
            agency_code=state.agency_code, unit_code=state.unit_code,
            procedure_code=state.procedure_code, amount_minor=issued.amount.amount_minor,
            method=state.method, issued_at=issued.issued_at,
        )  # fmt: skip

    @router.post(
        "/payments/{payment_id}/status-query", response_model=PaymentView, tags=["gateway"]
    )
    async def status_query(payment_id: UUID, api: Api, caller: Caller) -> PaymentView:
        """Finance asks the gateway what happened to the latest order (a lost or late callback)."""
        if caller.role != Role.FINANCE:
            raise ForbiddenError("only finance may query the gateway", role=caller.role)
        _, state = await api.payments.streams.payment(payment_id)
        if not state.order_refs:
            raise PaymentsDomainError(
                "the payment was never sent to the gateway", field="payment_id"
            )
        order_ref = state.order_refs[-1]
        started_at = state.checkout_started_at or api.clock.now()
        answer = await api.gateway.query_status(order_ref, started_at, "127.0.0.1")
        if answer.found and not answer.pending and answer.amount_minor is not None:
            evidence_id = uuid.uuid4()
            await api.evidence.record(
                CallbackEvidence(
                    evidence_id=evidence_id, received_at=api.clock.now(), gateway=answer.gateway,
                    channel="status_query", order_ref=order_ref,
                    raw_request=answer.raw_response, headers={"content-type": "application/json"},
                    secret_version=answer.secret_version, verification_result="verified",
                )
            )  # fmt: skip
            result = GatewayResult(
                gateway=answer.gateway.upper(), order_ref=order_ref,
                amount_minor=answer.amount_minor, currency=answer.currency,
                succeeded=answer.succeeded, response_code=answer.transaction_status or "",
                transaction_ref=answer.gateway_transaction_ref, bank_code=answer.bank_code,
                paid_at=answer.paid_at,
            )  # fmt: skip
            await api.payments.handle_gateway_result(
                result, evidence_id, command_context(api, caller)
            )
        return await api.payments.payment(command_context(api, caller), payment_id)

    add_gateway_routes(router)
    return router
