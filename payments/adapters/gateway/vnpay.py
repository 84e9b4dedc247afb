"""VNPay (API 2.1.0) behind the PaymentGateway port: pay URL, callbacks, IPN replies, querydr.

Building and reading VNPay's fields are pure functions in this module; only `query_status` talks
HTTP, through an injected httpx.AsyncClient so tests route it to the in-process sandbox. Secrets
come from configuration as bytes keyed by a version, so a secret can be rotated: callbacks and
query answers verify with the current secret first, then with older ones still configured.
"""

import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx

from payments.adapters.gateway.ports import (
    CheckoutOrder,
    GatewayCallback,
    GatewayCallbackFormatError,
    GatewayResponseError,
    GatewayResponseSignatureError,
    GatewayUnavailableError,
    IpnReply,
    StatusQueryResult,
    VerifiedCallback,
)
from payments.adapters.gateway.vnpay_signing import (
    HASH_FIELD,
    VnpayFieldError,
    amount_from_vnp,
    amount_to_vnp,
    format_vn_time,
    parse_vn_time,
    querydr_request_hash,
    signed_query,
    verify,
    verify_querydr_response,
)

GATEWAY_NAME = "vnpay"
VNP_VERSION = "2.1.0"
CURRENCY = "VND"
LOCALES = frozenset({"vn", "en"})
SUCCESS_CODE = "00"
PENDING_STATUS = "01"
QUERYDR_NOT_FOUND_CODE = "91"
# VNPay's field limits: vnp_TxnRef Alphanumeric[1,100], vnp_OrderInfo [1,255], vnp_IpAddr [7,45].
TXN_REF_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,100}")
ORDER_INFO_LENGTH_MAX = 255
CLIENT_IP_LENGTH_MAX = 45
CODE_PATTERN = re.compile(r"[0-9A-Za-z]{2}")
# VNPay asks for order info in Vietnamese without diacritics and without special characters.
ORDER_INFO_PUNCTUATION = frozenset(" .,:;-_()#/")

IPN_REPLY_BODIES: Mapping[IpnReply, tuple[str, str]] = {
    IpnReply.CONFIRMED: ("00", "Confirm Success"),
    IpnReply.ORDER_NOT_FOUND: ("01", "Order not found"),
    IpnReply.ALREADY_CONFIRMED: ("02", "Order already confirmed"),
    IpnReply.INVALID_AMOUNT: ("04", "Invalid amount"),
    IpnReply.INVALID_SIGNATURE: ("97", "Invalid signature"),
    IpnReply.UNKNOWN_ERROR: ("99", "Unknown error"),
}


@dataclass(frozen=True)
class VnpayConfig:
    """One VNPay terminal. `secrets` maps a version label to the hash secret (never in code)."""

    tmn_code: str
    pay_url: str
    api_url: str
    return_url: str
    secrets: Mapping[str, bytes] = field(repr=False)
    current_secret_version: str
    order_type: str = "other"
    query_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.tmn_code.isalnum():
            raise ValueError(f"VnpayConfig.tmn_code must be alphanumeric, got {self.tmn_code!r}")
        if self.current_secret_version not in self.secrets:
            raise ValueError(
                f"VnpayConfig.current_secret_version {self.current_secret_version!r} is not one "
                f"of the configured secret versions {sorted(self.secrets)}"
            )
        empty = sorted(version for version, secret in self.secrets.items() if not secret)
        if empty:
            raise ValueError(f"VnpayConfig.secrets has empty secrets for versions {empty}")
        if self.query_timeout_s <= 0:
            raise ValueError(f"VnpayConfig.query_timeout_s must be > 0, got {self.query_timeout_s}")

    @property
    def current_secret(self) -> bytes:
        return self.secrets[self.current_secret_version]

    def secrets_to_try(self) -> list[tuple[str, bytes]]:
        """The current secret first, then the older ones in configuration order."""
        older = [(v, s) for v, s in self.secrets.items() if v != self.current_secret_version]
        return [(self.current_secret_version, self.current_secret), *older]


def order_info_text(description: str) -> str:
    """The description folded to what VNPay accepts: no diacritics, no special characters.

    "Lệ phí cấp đổi GPLX" becomes "Le phi cap doi GPLX". The text is descriptive only (the
    amount and reference travel in their own fields), so cutting it to 255 characters is safe.
    """
    folded = unicodedata.normalize("NFD", description.replace("đ", "d").replace("Đ", "D"))
    letters = (ch for ch in folded if not unicodedata.combining(ch))
    kept = "".join(
        ch if (ch.isascii() and ch.isalnum()) or ch in ORDER_INFO_PUNCTUATION else " "
        for ch in letters
    )
    text = " ".join(kept.split())[:ORDER_INFO_LENGTH_MAX].strip()
    if not text:
        raise ValueError(f"CheckoutOrder.description {description!r} has no usable characters")
    return text


def _check_order(order: CheckoutOrder) -> None:
    if not TXN_REF_PATTERN.fullmatch(order.order_ref):
        raise ValueError(
            f"CheckoutOrder.order_ref must be 1-100 of [A-Za-z0-9_-], got {order.order_ref!r}"
        )
    if order.locale not in LOCALES:
        raise ValueError(
            f"CheckoutOrder.locale must be one of {sorted(LOCALES)}, got {order.locale!r}"
        )
    if not 0 < len(order.client_ip) <= CLIENT_IP_LENGTH_MAX:
        raise ValueError(
            f"CheckoutOrder.client_ip must be 1-45 characters, got {order.client_ip!r}"
        )
    if order.expires_at <= order.created_at:
        raise ValueError(
            f"CheckoutOrder {order.order_ref}: expires_at {order.expires_at.isoformat()} is not "
            f"after created_at {order.created_at.isoformat()}"
        )


def checkout_params(config: VnpayConfig, order: CheckoutOrder) -> dict[str, str]:
    """The unsigned vnp_* parameters of the pay URL for one order."""
    _check_order(order)
    params = {
        "vnp_Version": VNP_VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": config.tmn_code,
        "vnp_Amount": amount_to_vnp(order.amount_minor),
        "vnp_CurrCode": CURRENCY,
        "vnp_TxnRef": order.order_ref,
        "vnp_OrderInfo": order_info_text(order.description),
        "vnp_OrderType": config.order_type,
        "vnp_Locale": order.locale,
        "vnp_ReturnUrl": config.return_url,
        "vnp_IpAddr": order.client_ip,
        "vnp_CreateDate": format_vn_time(order.created_at),
        "vnp_ExpireDate": format_vn_time(order.expires_at),
    }
    if order.bank_code:
        params["vnp_BankCode"] = order.bank_code
    return params


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise GatewayCallbackFormatError(name, "is missing or empty")
    return value


def _code(params: Mapping[str, str], name: str) -> str:
    value = _required(params, name)
    if not CODE_PATTERN.fullmatch(value):
        raise GatewayCallbackFormatError(name, f"must be a 2-character code, got {value!r}")
    return value


def _transaction_ref(value: str | None) -> str | None:
    # VNPay sends vnp_TransactionNo=0 when no transaction was created on its side (e.g. the
    # citizen cancelled); 0 is then no reference at all and must not be stored as one.
    return None if not value or value == "0" else value


def callback_from_params(params: Mapping[str, str], tmn_code: str) -> GatewayCallback:
    """Read an already verified IPN or return; raises GatewayCallbackFormatError naming a field."""
    terminal = _required(params, "vnp_TmnCode")
    if terminal != tmn_code:
        raise GatewayCallbackFormatError("vnp_TmnCode", f"is {terminal!r}, not ours {tmn_code!r}")
    currency = params.get("vnp_CurrCode") or CURRENCY  # another is flagged by the domain
    response_code = _code(params, "vnp_ResponseCode")
    transaction_status = _code(params, "vnp_TransactionStatus")
    succeeded = response_code == SUCCESS_CODE and transaction_status == SUCCESS_CODE
    pay_date = params.get("vnp_PayDate")
    try:
        amount_minor = amount_from_vnp(_required(params, "vnp_Amount"))
        paid_at = parse_vn_time(pay_date, "vnp_PayDate") if pay_date else None
    except VnpayFieldError as error:
        raise GatewayCallbackFormatError(error.field, error.reason) from error
    if succeeded and paid_at is None:
        raise GatewayCallbackFormatError("vnp_PayDate", "is missing on a successful payment")
    return GatewayCallback(
        gateway=GATEWAY_NAME,
        order_ref=_required(params, "vnp_TxnRef"),
        amount_minor=amount_minor,
        succeeded=succeeded,
        response_code=response_code,
        transaction_status=transaction_status,
        gateway_transaction_ref=_transaction_ref(params.get("vnp_TransactionNo")),
        bank_code=params.get("vnp_BankCode") or None,
        paid_at=paid_at if succeeded else None,
        currency=currency,
    )


def querydr_body(
    config: VnpayConfig,
    *,
    request_id: str,
    order_ref: str,
    created_at: datetime,
    requested_at: datetime,
    client_ip: str,
) -> dict[str, str]:
    """The signed JSON body of a querydr request for one order."""
    body = {
        "vnp_RequestId": request_id,
        "vnp_Version": VNP_VERSION,
        "vnp_Command": "querydr",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TxnRef": order_ref,
        "vnp_TransactionDate": format_vn_time(created_at),
        "vnp_CreateDate": format_vn_time(requested_at),
        "vnp_IpAddr": client_ip,
        "vnp_OrderInfo": f"Truy van giao dich {order_ref}",
    }
    body[HASH_FIELD] = querydr_request_hash(body, config.current_secret)
    return body


def json_strings(payload: object) -> dict[str, str]:
    """A querydr answer as strings; VNPay may send numbers as JSON numbers, never as floats."""
    if not isinstance(payload, dict):
        raise GatewayResponseError(
            f"VNPay querydr answered {type(payload).__name__}, not an object"
        )
    fields: dict[str, str] = {}
    for key, value in payload.items():
        if value is None:
            fields[str(key)] = ""
        elif isinstance(value, str):
            fields[str(key)] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            fields[str(key)] = str(value)
        else:
            raise GatewayResponseError(f"VNPay querydr field {key} has a {type(value).__name__}")
    return fields


def _response_field(fields: Mapping[str, str], name: str, order_ref: str) -> str:
    value = fields.get(name)
    if not value:
        raise GatewayResponseError(f"VNPay querydr for {order_ref}: {name} is missing")
    return value


def status_from_querydr(
    config: VnpayConfig, fields: Mapping[str, str], order_ref: str
) -> StatusQueryResult:
    """Check and read a querydr answer; refuses answers unsigned, for another order or terminal."""
    code = fields.get("vnp_ResponseCode", "")
    if code not in (SUCCESS_CODE, QUERYDR_NOT_FOUND_CODE):
        message = fields.get("vnp_Message", "")
        raise GatewayResponseError(
            f"VNPay refused querydr for {order_ref}: vnp_ResponseCode {code!r} {message!r}"
        )
    secrets = config.secrets_to_try()
    version = next((v for v, secret in secrets if verify_querydr_response(fields, secret)), None)
    if version is None:
        raise GatewayResponseSignatureError(
            f"VNPay querydr answer for {order_ref}: vnp_SecureHash is missing or does not verify"
        )
    for name, expected in (("vnp_TxnRef", order_ref), ("vnp_TmnCode", config.tmn_code)):
        received = fields.get(name)
        if received != expected and (received or code == SUCCESS_CODE):
            raise GatewayResponseError(
                f"VNPay querydr for {order_ref}: {name} is {received!r}, expected {expected!r}"
            )
    if code == QUERYDR_NOT_FOUND_CODE:
        return StatusQueryResult(
            gateway=GATEWAY_NAME,
            order_ref=order_ref,
            found=False,
            query_response_code=code,
            transaction_status=None,
            succeeded=False,
            pending=False,
            amount_minor=None,
            gateway_transaction_ref=None,
            bank_code=None,
            paid_at=None,
            currency=CURRENCY,
            secret_version=version,
        )
    return _found_status(fields, order_ref, version)


def _found_status(
    fields: Mapping[str, str], order_ref: str, secret_version: str
) -> StatusQueryResult:
    status = _response_field(fields, "vnp_TransactionStatus", order_ref)
    succeeded = status == SUCCESS_CODE
    pay_date = fields.get("vnp_PayDate")
    try:
        amount_minor = amount_from_vnp(_response_field(fields, "vnp_Amount", order_ref))
        paid_at = parse_vn_time(pay_date, "vnp_PayDate") if pay_date else None
    except VnpayFieldError as error:
        raise GatewayResponseError(f"VNPay querydr for {order_ref}: {error}") from error
    return StatusQueryResult(
        gateway=GATEWAY_NAME,
        order_ref=order_ref,
        found=True,
        query_response_code=SUCCESS_CODE,
        transaction_status=status,
        succeeded=succeeded,
        pending=status == PENDING_STATUS,
        amount_minor=amount_minor,
        gateway_transaction_ref=_transaction_ref(fields.get("vnp_TransactionNo")),
        bank_code=fields.get("vnp_BankCode") or None,
        paid_at=paid_at if succeeded else None,
        currency=CURRENCY,
        secret_version=secret_version,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _random_request_id() -> str:
    return uuid.uuid4().hex


class VnpayGateway:
    """The PaymentGateway port for one VNPay terminal."""

    name = GATEWAY_NAME

    def __init__(
        self,
        config: VnpayConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = _utc_now,
        request_ids: Callable[[], str] = _random_request_id,
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._request_ids = request_ids

    def checkout_url(self, order: CheckoutOrder) -> str:
        params = checkout_params(self._config, order)
        separator = "&" if "?" in self._config.pay_url else "?"
        return self._config.pay_url + separator + signed_query(params, self._config.current_secret)

    def verify_callback(self, params: Mapping[str, str]) -> VerifiedCallback | None:
        for version, secret in self._config.secrets_to_try():
            if verify(params, secret):
                try:
                    callback = callback_from_params(params, self._config.tmn_code)
                except GatewayCallbackFormatError as error:
                    error.secret_version = version  # signed by the gateway, yet unreadable
                    raise
                return VerifiedCallback(callback, version)
        return None

    def ipn_response(self, reply: IpnReply) -> dict[str, str]:
        code, message = IPN_REPLY_BODIES[reply]
        return {"RspCode": code, "Message": message}

    async def query_status(
        self, order_ref: str, created_at: datetime, client_ip: str
    ) -> StatusQueryResult:
        body = querydr_body(
            self._config,
            request_id=self._request_ids(),
            order_ref=order_ref,
            created_at=created_at,
            requested_at=self._clock(),
            client_ip=client_ip,
        )
        url = self._config.api_url
        try:
            response = await self._http.post(url, json=body, timeout=self._config.query_timeout_s)
        except httpx.HTTPError as error:
            raise GatewayUnavailableError(
                f"VNPay querydr for {order_ref} at {url} failed: {error!r}"
            ) from error
        if response.status_code != httpx.codes.OK:
            raise GatewayUnavailableError(
                f"VNPay querydr for {order_ref} at {url} answered HTTP {response.status_code}"
            )
        try:
            payload: object = response.json()
        except ValueError as error:
            raise GatewayResponseError(
                f"VNPay querydr for {order_ref} answered non-JSON: {response.text[:200]!r}"
            ) from error
        status = status_from_querydr(self._config, json_strings(payload), order_ref)
        return replace(status, raw_response=response.content)  # the signed bytes, as evidence
