"""The gateway's routes: the signed server-to-server callback (IPN) and the browser's return.
Neither takes a bearer token: the IPN is verified by its signature, and the return changes no
state."""

import uuid
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Request

from payments.adapters.evidence import CallbackEvidence
from payments.adapters.gateway.ports import GatewayCallbackFormatError, IpnReply
from payments.domain.callbacks import GatewayResult
from payments.domain.errors import NotFoundError
from payments.entrypoints.api import GATEWAY_PRINCIPAL, Api, command_context
from payments.service.handlers import payment_id_of
from schemas.api.payments import GatewayReturnView

log = structlog.get_logger("payments.http")


def add_gateway_routes(router: APIRouter) -> None:
    async def gateway_ipn(request: Request, api: Api) -> dict[str, str]:
        """Server-to-server callback from the gateway. Signed; no bearer token."""
        raw = request.url.query.encode() if request.method == "GET" else await request.body()
        params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}

        def evidence(order_ref: str, secret_version: str, result: str) -> CallbackEvidence:
            return CallbackEvidence(
                evidence_id=uuid.uuid4(), received_at=api.clock.now(), gateway=api.gateway.name,
                channel="ipn", order_ref=order_ref, raw_request=raw, headers=headers,
                secret_version=secret_version, verification_result=result,
            )  # fmt: skip

        try:
            verified = api.gateway.verify_callback(params)
        except GatewayCallbackFormatError as error:
            if error.secret_version is not None:  # the gateway's own words: kept, for a person
                order_ref = params.get("vnp_TxnRef", "")
                log.error("gateway.callback_unreadable", order_ref=order_ref, error=str(error))
                await api.evidence.record(
                    evidence(order_ref, error.secret_version, f"verified_unreadable: {error}")
                )
            else:
                log.warning("gateway.callback_malformed", error=str(error))
            return api.gateway.ipn_response(IpnReply.UNKNOWN_ERROR)
        if verified is None:
            log.warning("gateway.callback_bad_signature", order_ref=params.get("vnp_TxnRef"))
            return api.gateway.ipn_response(IpnReply.INVALID_SIGNATURE)
        callback = verified.callback
        recorded = evidence(callback.order_ref, verified.secret_version, "verified")
        await api.evidence.record(recorded)
        evidence_id = recorded.evidence_id
        result = GatewayResult(
            gateway=callback.gateway.upper(), order_ref=callback.order_ref,
            amount_minor=callback.amount_minor, currency=callback.currency,
            succeeded=callback.succeeded, response_code=callback.response_code,
            transaction_ref=callback.gateway_transaction_ref, bank_code=callback.bank_code,
            paid_at=callback.paid_at,
        )  # fmt: skip
        reply = await api.payments.handle_gateway_result(
            result, evidence_id, command_context(api, GATEWAY_PRINCIPAL)
        )
        return api.gateway.ipn_response(IpnReply[reply.name])

    # VNPay calls the IPN URL with GET; other gateways POST a form. Same handler, both methods.
    for method in ("GET", "POST"):
        router.add_api_route(
            "/gateway/ipn", gateway_ipn, methods=[method], tags=["gateway"],
            operation_id=f"gateway_ipn_{method.lower()}",
        )  # fmt: skip

    @router.get("/gateway/return", response_model=GatewayReturnView, tags=["gateway"])
    async def gateway_return(request: Request, api: Api) -> GatewayReturnView:
        """Where the gateway sends the browser back. It never changes state: only the signed
        server-to-server callback (or a status query) does. It says what is known so far."""
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        try:
            verified = api.gateway.verify_callback(params)
        except GatewayCallbackFormatError:
            verified = None
        order_ref = params.get("vnp_TxnRef", "")
        if verified is None:
            return GatewayReturnView(
                payment_id=None, order_ref=order_ref[:64], status="unknown",
                message="the gateway's return could not be verified; check the payment later",
            )  # fmt: skip
        payment_id = payment_id_of(order_ref)
        status = "unknown"
        if payment_id is not None:
            try:
                _, state = await api.payments.streams.payment(payment_id)
                status = state.status.value
            except NotFoundError:
                payment_id = None
        said = "success" if verified.callback.succeeded else "failure"
        message = f"the gateway reports {said}; the payment is {status}" + (
            "" if status != "pending" else " until the gateway confirms it server-to-server"
        )
        return GatewayReturnView(
            payment_id=payment_id, order_ref=order_ref, status=status, message=message
        )
