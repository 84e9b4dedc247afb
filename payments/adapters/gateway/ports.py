"""The gateway-neutral port: what the payments service needs from any online payment gateway.

VNPay is the first implementation; others (MoMo, ZaloPay, a bank's own page) can follow without
the service changing. Everything here is plain data and a Protocol, so it imports no I/O library.
Amounts are integer minor units (whole dong for VND) and instants are aware datetimes.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class GatewayError(Exception):
    """Something a gateway sent, or failed to send, that the caller must handle."""


class GatewayCallbackFormatError(GatewayError, ValueError):
    """A signed callback carried a field we cannot read; `field` names it, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"gateway callback field {field} {reason}")
        self.field = field
        self.reason = reason
        # Set when the signature verified (with this secret version) before the field failed:
        # the gateway really sent it, so it is kept as evidence.
        self.secret_version: str | None = None


class GatewayUnavailableError(GatewayError):
    """The gateway could not be reached or answered with an HTTP error; safe to retry later."""


class GatewayResponseError(GatewayError):
    """The gateway answered, but unusably: malformed, refused, or about another order."""


class GatewayResponseSignatureError(GatewayResponseError):
    """The gateway's answer is unsigned or its signature fails: never trust its content."""


@dataclass(frozen=True, slots=True)
class CheckoutOrder:
    """One payment attempt to send the citizen to the gateway for.

    `order_ref` is unique per attempt (a retry after a failure gets a new one), because gateways
    refuse a reference they have already seen.
    """

    order_ref: str
    amount_minor: int
    description: str
    created_at: datetime
    expires_at: datetime
    client_ip: str
    locale: str = "vn"
    bank_code: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayCallback:
    """What a verified gateway callback (IPN or browser return) says happened to one order."""

    gateway: str
    order_ref: str
    amount_minor: int
    succeeded: bool
    response_code: str
    transaction_status: str
    gateway_transaction_ref: str | None
    bank_code: str | None
    paid_at: datetime | None
    currency: str


@dataclass(frozen=True, slots=True)
class VerifiedCallback:
    """A callback whose signature verified, and which configured secret version verified it.

    The version lets operators see when the gateway stops using an old secret during rotation.
    """

    callback: GatewayCallback
    secret_version: str


@dataclass(frozen=True, slots=True)
class StatusQueryResult:
    """The gateway's answer to "what happened to this order?", its signature already verified.

    `found` is False when the gateway has no transaction for the reference. A found transaction
    is `pending` while the citizen has not finished, and `succeeded` only when it was paid.
    """

    gateway: str
    order_ref: str
    found: bool
    query_response_code: str
    transaction_status: str | None
    succeeded: bool
    pending: bool
    amount_minor: int | None
    gateway_transaction_ref: str | None
    bank_code: str | None
    paid_at: datetime | None
    currency: str
    secret_version: str  # the version of the shared secret that verified the answer
    raw_response: bytes = b""  # the answer as received, kept as evidence (set by the adapter)


class IpnReply(StrEnum):
    """The merchant's verdict on one server-to-server notification; each gateway words it."""

    CONFIRMED = "confirmed"
    ORDER_NOT_FOUND = "order_not_found"
    ALREADY_CONFIRMED = "already_confirmed"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_SIGNATURE = "invalid_signature"
    UNKNOWN_ERROR = "unknown_error"


class PaymentGateway(Protocol):
    """A payment gateway as the payments service sees it."""

    @property
    def name(self) -> str:
        """A short stable name recorded in events, e.g. "vnpay"."""
        ...

    def checkout_url(self, order: CheckoutOrder) -> str:
        """The signed URL that sends the citizen's browser to the gateway's pay page."""
        ...

    def verify_callback(self, params: Mapping[str, str]) -> VerifiedCallback | None:
        """The callback if some configured secret verifies it, else None.

        Raises GatewayCallbackFormatError when the signature holds but a field cannot be read.
        """
        ...

    def ipn_response(self, reply: IpnReply) -> dict[str, str]:
        """The body the gateway expects back from the merchant's IPN endpoint."""
        ...

    async def query_status(
        self, order_ref: str, created_at: datetime, client_ip: str
    ) -> StatusQueryResult:
        """Ask the gateway for the order's status (when a callback is late or lost).

        Raises GatewayUnavailableError, GatewayResponseError or GatewayResponseSignatureError.
        """
        ...
