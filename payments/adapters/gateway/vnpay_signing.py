"""VNPay API 2.1.0 signing, amounts and times as pure functions (no I/O, no clock).

Kept apart from the HTTP adapter so the exact byte strings that get signed can be tested against
vectors computed by hand, and so the sandbox gateway signs with the very same rules.

Rules (VNPay's PAY integration guide and its official Python demo):
- payment URL, IPN and browser return: every `vnp_*` parameter except vnp_SecureHash and
  vnp_SecureHashType, sorted by key, each written `quote_plus(key)=quote_plus(value)` (UTF-8,
  space as '+'), joined by '&'; the hash is hex(HMAC-SHA512(secret, that string as UTF-8)).
- querydr request and response: the listed values joined by '|' in a fixed order (a missing
  value counts as ''), hashed the same way.
- vnp_Amount is the VND amount times 100, digits only; times are yyyyMMddHHmmss in GMT+7.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote_plus

HASH_FIELD = "vnp_SecureHash"
HASH_TYPE_FIELD = "vnp_SecureHashType"
SIGNED_PREFIX = "vnp_"

# VNPay's times are wall-clock GMT+7, the offset of Asia/Ho_Chi_Minh (no daylight saving since
# 1975). A fixed offset says exactly that and does not depend on the tzdata installed.
VNPAY_ZONE = timezone(timedelta(hours=7), "GMT+7")
VN_TIME_FORMAT = "%Y%m%d%H%M%S"

# vnp_Amount is Numeric[1,12] and carries dong x 100, so at most 9,999,999,999 VND per payment.
VNP_AMOUNT_SCALE = 100
VNP_AMOUNT_DIGITS_MAX = 12
VNP_AMOUNT_MINOR_MAX = (10**VNP_AMOUNT_DIGITS_MAX - 1) // VNP_AMOUNT_SCALE

QUERYDR_REQUEST_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
QUERYDR_RESPONSE_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)

_AMOUNT_DIGITS = re.compile(rf"[1-9][0-9]{{0,{VNP_AMOUNT_DIGITS_MAX - 1}}}")
_VN_TIME_DIGITS = re.compile(r"[0-9]{14}")


class VnpayFieldError(ValueError):
    """A VNPay field holds a value we refuse; `field` names it and the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


def _hmac_sha512_hex(secret: bytes, message: str) -> str:
    if not secret:
        raise ValueError("the VNPay hash secret is empty; set it in configuration")
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha512).hexdigest()


def canonical_query(params: Mapping[str, str]) -> str:
    """The exact string VNPay signs for a payment URL, IPN or return: sorted `vnp_*` pairs.

    Other keys (a merchant's own query parameters on its return URL) are not signed by VNPay, so
    they are left out here too and must never be trusted.
    """
    pairs = sorted(
        (key, value)
        for key, value in params.items()
        if key.startswith(SIGNED_PREFIX) and key not in (HASH_FIELD, HASH_TYPE_FIELD)
    )
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pairs)


def sign(params: Mapping[str, str], secret: bytes) -> str:
    """hex(HMAC-SHA512(secret, canonical_query(params)))."""
    return _hmac_sha512_hex(secret, canonical_query(params))


def signed_query(params: Mapping[str, str], secret: bytes) -> str:
    """The canonical query with its vnp_SecureHash appended, ready to follow a '?'."""
    return f"{canonical_query(params)}&{HASH_FIELD}={sign(params, secret)}"


def _same_hash(expected_hex: str, received: str) -> bool:
    # Hex digests are compared as bytes in constant time; some senders upper-case their hex.
    return hmac.compare_digest(expected_hex.encode("ascii"), received.lower().encode("utf-8"))


def verify(params: Mapping[str, str], secret: bytes) -> bool:
    """True only if params carry a vnp_SecureHash equal to sign(params, secret)."""
    received = params.get(HASH_FIELD)
    if not received:
        return False
    return _same_hash(sign(params, secret), received)


def _pipe_hash(values: Mapping[str, str], fields: tuple[str, ...], secret: bytes) -> str:
    return _hmac_sha512_hex(secret, "|".join(values.get(field, "") for field in fields))


def querydr_request_hash(body: Mapping[str, str], secret: bytes) -> str:
    """The vnp_SecureHash of a querydr request body (QUERYDR_REQUEST_FIELDS joined by '|')."""
    return _pipe_hash(body, QUERYDR_REQUEST_FIELDS, secret)


def querydr_response_hash(body: Mapping[str, str], secret: bytes) -> str:
    """The vnp_SecureHash of a querydr response body (QUERYDR_RESPONSE_FIELDS joined by '|')."""
    return _pipe_hash(body, QUERYDR_RESPONSE_FIELDS, secret)


def verify_querydr_response(body: Mapping[str, str], secret: bytes) -> bool:
    """True only if the response carries a vnp_SecureHash equal to querydr_response_hash."""
    received = body.get(HASH_FIELD)
    if not received:
        return False
    return _same_hash(querydr_response_hash(body, secret), received)


def format_vn_time(instant: datetime) -> str:
    """An aware instant as VNPay writes times: yyyyMMddHHmmss on the GMT+7 wall clock."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"format_vn_time needs an aware datetime, got naive {instant.isoformat()}")
    return instant.astimezone(VNPAY_ZONE).strftime(VN_TIME_FORMAT)


def parse_vn_time(text: str, field: str = "vnp_PayDate") -> datetime:
    """A VNPay yyyyMMddHHmmss GMT+7 time as an aware UTC instant; `field` names it in errors."""
    if not _VN_TIME_DIGITS.fullmatch(text):
        raise VnpayFieldError(field, f"must be 14 digits yyyyMMddHHmmss, got {text!r}")
    try:
        wall_clock = datetime.strptime(text, VN_TIME_FORMAT)
    except ValueError as error:
        raise VnpayFieldError(field, f"is not a calendar time: {text!r} ({error})") from error
    return wall_clock.replace(tzinfo=VNPAY_ZONE).astimezone(UTC)


def amount_to_vnp(amount_minor: int) -> str:
    """Whole dong as VNPay's vnp_Amount: the amount times 100, as digits."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise VnpayFieldError("vnp_Amount", f"needs an integer dong amount, got {amount_minor!r}")
    if not 0 < amount_minor <= VNP_AMOUNT_MINOR_MAX:
        raise VnpayFieldError(
            "vnp_Amount", f"must be 1..{VNP_AMOUNT_MINOR_MAX} VND, got {amount_minor} VND"
        )
    return str(amount_minor * VNP_AMOUNT_SCALE)


def amount_from_vnp(text: str, field: str = "vnp_Amount") -> int:
    """VNPay's vnp_Amount (dong x 100) back to whole dong, refusing anything inexact."""
    if not _AMOUNT_DIGITS.fullmatch(text):
        raise VnpayFieldError(
            field,
            f"must be 1-{VNP_AMOUNT_DIGITS_MAX} digits without a leading zero, got {text!r}",
        )
    scaled = int(text)
    if scaled % VNP_AMOUNT_SCALE:
        raise VnpayFieldError(
            field, f"must be a multiple of {VNP_AMOUNT_SCALE} (VND x 100), got {text!r}"
        )
    return scaled // VNP_AMOUNT_SCALE
