"""Proves the VNPay 2.1.0 signing rules against vectors built by hand (hmac/hashlib directly):
the sorted, quote_plus-encoded query (spaces and Vietnamese diacritics included), that tampering
with any signed parameter breaks verification, secret rotation, the x100 amount encoding and its
refusals, GMT+7 times around midnight UTC, the querydr pipe hashes and the IPN reply bodies."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote_plus, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from payments.adapters.gateway.ports import (
    CheckoutOrder,
    GatewayCallbackFormatError,
    IpnReply,
    PaymentGateway,
)
from payments.adapters.gateway.vnpay import VnpayConfig, VnpayGateway, order_info_text
from payments.adapters.gateway.vnpay_signing import (
    VNP_AMOUNT_MINOR_MAX,
    VnpayFieldError,
    amount_from_vnp,
    amount_to_vnp,
    canonical_query,
    format_vn_time,
    parse_vn_time,
    querydr_request_hash,
    querydr_response_hash,
    sign,
    verify,
)

SECRET = b"TESTSECRET0123456789ABCDEFGHIJKL"
OLD_SECRET = b"OLDSECRET-retired-2024"
# "Lệ phí hồ sơ #12 & 13: nhà ở", spelled with code points so the source encoding cannot matter.
ORDER_INFO = "L\u1ec7 ph\u00ed h\u1ed3 s\u01a1 #12 & 13: nh\u00e0 \u1edf"
PARAMS = {
    "vnp_Version": "2.1.0",
    "vnp_Command": "pay",
    "vnp_TmnCode": "FEESDEMO",
    "vnp_Amount": "15000000",
    "vnp_CurrCode": "VND",
    "vnp_TxnRef": "HS-2024-0001-a1",
    "vnp_OrderInfo": ORDER_INFO,
    "vnp_OrderType": "other",
    "vnp_Locale": "vn",
    "vnp_ReturnUrl": "https://fees.example.vn/return?x=1",
    "vnp_IpAddr": "203.113.0.7",
    "vnp_CreateDate": "20240501235959",
    "vnp_ExpireDate": "20240502001459",
}
# Sorted by key; UTF-8 percent-encoding worked out by hand: ệ=E1 BB 87, í=C3 AD, ồ=E1 BB 93,
# ơ=C6 A1, à=C3 A0, ở=E1 BB 9F; space is '+', and '#', '&', ':', '/', '?', '=' are escaped.
EXPECTED_QUERY = (
    "vnp_Amount=15000000"
    "&vnp_Command=pay"
    "&vnp_CreateDate=20240501235959"
    "&vnp_CurrCode=VND"
    "&vnp_ExpireDate=20240502001459"
    "&vnp_IpAddr=203.113.0.7"
    "&vnp_Locale=vn"
    "&vnp_OrderInfo=L%E1%BB%87+ph%C3%AD+h%E1%BB%93+s%C6%A1+%2312+%26+13%3A+nh%C3%A0+%E1%BB%9F"
    "&vnp_OrderType=other"
    "&vnp_ReturnUrl=https%3A%2F%2Ffees.example.vn%2Freturn%3Fx%3D1"
    "&vnp_TmnCode=FEESDEMO"
    "&vnp_TxnRef=HS-2024-0001-a1"
    "&vnp_Version=2.1.0"
)


def hand_hmac(message: str, secret: bytes = SECRET) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha512).hexdigest()


def hand_signed(params: dict[str, str], secret: bytes) -> dict[str, str]:
    """Sign independently of the code under test: sorted quote_plus pairs, HMAC-SHA512."""
    message = "&".join(f"{key}={quote_plus(value)}" for key, value in sorted(params.items()))
    return {**params, "vnp_SecureHash": hand_hmac(message, secret)}


def test_canonical_query_matches_the_hand_built_vector() -> None:
    assert canonical_query(PARAMS) == EXPECTED_QUERY


def test_signature_is_hmac_sha512_hex_of_the_canonical_query() -> None:
    expected = hand_hmac(EXPECTED_QUERY)
    assert len(expected) == 128
    assert sign(PARAMS, SECRET) == expected
    assert verify({**PARAMS, "vnp_SecureHash": expected}, SECRET)


def test_hash_fields_and_foreign_keys_are_not_signed() -> None:
    signed = {**PARAMS, "vnp_SecureHash": hand_hmac(EXPECTED_QUERY)}
    assert verify({**signed, "vnp_SecureHashType": "HmacSHA512"}, SECRET)
    # A merchant's own return-URL parameters are outside VNPay's signature; we never read them.
    assert verify({**signed, "session": "abc"}, SECRET)
    assert verify({**signed, "vnp_SecureHash": signed["vnp_SecureHash"].upper()}, SECRET)


@pytest.mark.parametrize("key", sorted(PARAMS))
def test_tampering_with_any_signed_parameter_breaks_verification(key: str) -> None:
    signed = {**PARAMS, "vnp_SecureHash": hand_hmac(EXPECTED_QUERY)}
    assert not verify({**signed, key: signed[key] + "0"}, SECRET)
    assert not verify({k: v for k, v in signed.items() if k != key}, SECRET)


def test_tampered_amount_added_field_or_wrong_secret_fail() -> None:
    signed = {**PARAMS, "vnp_SecureHash": hand_hmac(EXPECTED_QUERY)}
    assert not verify({**signed, "vnp_Amount": "16000000"}, SECRET)
    assert not verify({**signed, "vnp_BankCode": "NCB"}, SECRET)
    assert not verify(signed, OLD_SECRET)


@pytest.mark.parametrize("hash_value", [None, "", "zz", "0" * 128])
def test_missing_or_malformed_hash_does_not_verify(hash_value: str | None) -> None:
    params = dict(PARAMS) if hash_value is None else {**PARAMS, "vnp_SecureHash": hash_value}
    assert not verify(params, SECRET)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret is empty"):
        sign(PARAMS, b"")


def config(**overrides: object) -> VnpayConfig:
    values: dict[str, object] = {
        "tmn_code": "FEESDEMO",
        "pay_url": "https://sandbox.example/paymentv2/vpcpay.html",
        "api_url": "https://sandbox.example/merchant_webapi/api/transaction",
        "return_url": "https://fees.example.vn/return?x=1",
        "secrets": {"2024-01": OLD_SECRET, "2025-06": SECRET},
        "current_secret_version": "2025-06",
    }
    values.update(overrides)
    return VnpayConfig(**values)  # type: ignore[arg-type]


def refusing_client() -> httpx.AsyncClient:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no HTTP expected, got {request.url}")

    return httpx.AsyncClient(transport=httpx.MockTransport(refuse))


def gateway(**overrides: object) -> VnpayGateway:
    return VnpayGateway(config(**overrides), refusing_client())


def test_checkout_url_is_signed_with_the_current_secret_and_folds_diacritics() -> None:
    created_at = datetime(2024, 5, 1, 16, 59, 59, tzinfo=UTC)  # 23:59:59 in GMT+7
    order = CheckoutOrder(
        order_ref="HS-2024-0001-a1",
        amount_minor=150_000,
        description=ORDER_INFO,
        created_at=created_at,
        expires_at=created_at + timedelta(minutes=15),
        client_ip="203.113.0.7",
    )
    url = gateway().checkout_url(order)
    query, _, hash_value = urlsplit(url).query.rpartition("&vnp_SecureHash=")
    # Diacritics folded and '&' (a special character VNPay refuses in order info) dropped.
    expected = EXPECTED_QUERY.replace(
        "L%E1%BB%87+ph%C3%AD+h%E1%BB%93+s%C6%A1+%2312+%26+13%3A+nh%C3%A0+%E1%BB%9F",
        "Le+phi+ho+so+%2312+13%3A+nha+o",
    )
    assert url.startswith("https://sandbox.example/paymentv2/vpcpay.html?")
    assert query == expected
    assert hash_value == hand_hmac(expected)


def test_order_info_keeps_plain_text_and_refuses_nothing_usable() -> None:
    assert order_info_text("Thanh toan don hang :5") == "Thanh toan don hang :5"
    assert order_info_text("ĐĂNG KÝ   hộ kinh doanh") == "DANG KY ho kinh doanh"
    assert len(order_info_text("a" * 400)) == 255
    with pytest.raises(ValueError, match="description"):
        order_info_text("日本")


@pytest.mark.parametrize(
    ("field", "value"),
    [("order_ref", "has space"), ("locale", "fr"), ("client_ip", ""), ("amount_minor", 0)],
)
def test_checkout_refuses_bad_orders(field: str, value: object) -> None:
    created_at = datetime(2024, 5, 1, tzinfo=UTC)
    values: dict[str, object] = {
        "order_ref": "R1",
        "amount_minor": 1,
        "description": "Le phi",
        "created_at": created_at,
        "expires_at": created_at + timedelta(minutes=1),
        "client_ip": "10.0.0.1",
        field: value,
    }
    with pytest.raises(ValueError, match=field if field != "amount_minor" else "vnp_Amount"):
        gateway().checkout_url(CheckoutOrder(**values))  # type: ignore[arg-type]


def ipn_params(**overrides: str) -> dict[str, str]:
    params = {
        "vnp_Amount": "15000000",
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP14000001",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": "Le phi ho so",
        "vnp_PayDate": "20240502000005",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": "FEESDEMO",
        "vnp_TransactionNo": "14000001",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": "HS-2024-0001-a1",
    }
    params.update(overrides)
    return params


def test_callback_verifies_with_the_current_secret_and_reads_every_field() -> None:
    verified = gateway().verify_callback(hand_signed(ipn_params(), SECRET))
    assert verified is not None
    assert verified.secret_version == "2025-06"
    callback = verified.callback
    assert (callback.gateway, callback.order_ref, callback.amount_minor) == (
        "vnpay",
        "HS-2024-0001-a1",
        150_000,
    )
    assert callback.succeeded and callback.currency == "VND"
    assert callback.paid_at == datetime(2024, 5, 1, 17, 0, 5, tzinfo=UTC)
    assert callback.gateway_transaction_ref == "14000001"
    assert callback.bank_code == "NCB"


def test_rotation_old_secret_still_verifies_and_says_which() -> None:
    verified = gateway().verify_callback(hand_signed(ipn_params(), OLD_SECRET))
    assert verified is not None and verified.secret_version == "2024-01"
    assert gateway().verify_callback(hand_signed(ipn_params(), b"someone-else")) is None
    assert gateway().verify_callback(ipn_params()) is None


def test_failed_callback_has_no_paid_at_and_zero_transaction_no_is_no_reference() -> None:
    params = ipn_params(vnp_ResponseCode="24", vnp_TransactionStatus="02", vnp_TransactionNo="0")
    verified = gateway().verify_callback(hand_signed(params, SECRET))
    assert verified is not None
    assert not verified.callback.succeeded
    assert verified.callback.paid_at is None
    assert verified.callback.gateway_transaction_ref is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vnp_Amount", "1500050"),
        ("vnp_Amount", "abc"),
        ("vnp_TmnCode", "OTHERTMN"),
        ("vnp_PayDate", "2024-05-02"),
        ("vnp_ResponseCode", ""),
        ("vnp_TxnRef", ""),
    ],
)
def test_signed_callback_with_unreadable_field_names_it(field: str, value: str) -> None:
    with pytest.raises(GatewayCallbackFormatError) as caught:
        gateway().verify_callback(hand_signed(ipn_params(**{field: value}), SECRET))
    assert caught.value.field == field
    assert field in str(caught.value)


def test_config_refuses_unknown_current_version_and_hides_secrets() -> None:
    with pytest.raises(ValueError, match="current_secret_version"):
        config(current_secret_version="2030-01")
    with pytest.raises(ValueError, match="empty secrets"):
        config(secrets={"2025-06": b""})
    assert "TESTSECRET" not in repr(config())


def test_vnpay_gateway_satisfies_the_port() -> None:
    port: PaymentGateway = gateway()
    assert port.name == "vnpay"


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        (IpnReply.CONFIRMED, "00", "Confirm Success"),
        (IpnReply.ORDER_NOT_FOUND, "01", "Order not found"),
        (IpnReply.ALREADY_CONFIRMED, "02", "Order already confirmed"),
        (IpnReply.INVALID_AMOUNT, "04", "Invalid amount"),
        (IpnReply.INVALID_SIGNATURE, "97", "Invalid signature"),
        (IpnReply.UNKNOWN_ERROR, "99", "Unknown error"),
    ],
)
def test_ipn_replies_use_vnpay_codes(reply: IpnReply, code: str, message: str) -> None:
    assert gateway().ipn_response(reply) == {"RspCode": code, "Message": message}


@pytest.mark.parametrize("amount_minor", [1, 10_000, 150_000, 2_000_000_000, VNP_AMOUNT_MINOR_MAX])
def test_amount_round_trips_times_100(amount_minor: int) -> None:
    text = amount_to_vnp(amount_minor)
    assert text == str(amount_minor) + "00"
    assert amount_from_vnp(text) == amount_minor


@pytest.mark.parametrize(
    "text", ["1500050", "150000001", "-100", "1.5e2", "100.00", "", "0", "00100", " 100", "１００"]
)
def test_amount_from_vnp_refuses_inexact_or_non_digit_text(text: str) -> None:
    with pytest.raises(VnpayFieldError, match="vnp_Amount") as caught:
        amount_from_vnp(text)
    assert caught.value.field == "vnp_Amount"


def test_amount_from_vnp_names_the_multiple_of_100_rule() -> None:
    with pytest.raises(VnpayFieldError, match="multiple of 100"):
        amount_from_vnp("1500050")


@pytest.mark.parametrize("amount", [0, -1, VNP_AMOUNT_MINOR_MAX + 1, True, 1.0, "100"])
def test_amount_to_vnp_refuses_non_positive_too_large_or_non_integer(amount: object) -> None:
    with pytest.raises(VnpayFieldError, match="vnp_Amount"):
        amount_to_vnp(amount)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (datetime(2024, 5, 1, 16, 59, 59, tzinfo=UTC), "20240501235959"),
        (datetime(2024, 5, 1, 17, 0, 0, tzinfo=UTC), "20240502000000"),
        (datetime(2024, 5, 1, 0, 0, 0, tzinfo=UTC), "20240501070000"),
        (datetime(2024, 12, 31, 23, 30, 0, tzinfo=UTC), "20250101063000"),
        (datetime(2024, 2, 28, 17, 0, 0, tzinfo=UTC), "20240229000000"),
    ],
)
def test_vn_time_is_gmt_plus_7_around_midnight(instant: datetime, text: str) -> None:
    assert format_vn_time(instant) == text
    assert instant.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y%m%d%H%M%S") == text
    parsed = parse_vn_time(text)
    assert parsed == instant and parsed.utcoffset() == timedelta(0)


def test_vn_time_accepts_other_zones_and_refuses_naive() -> None:
    paris = datetime(2024, 5, 1, 19, 0, tzinfo=ZoneInfo("Europe/Paris"))  # 17:00 UTC
    assert format_vn_time(paris) == "20240502000000"
    with pytest.raises(ValueError, match="aware"):
        format_vn_time(datetime(2024, 5, 1, 17, 0))


@pytest.mark.parametrize("text", ["2024050200000", "20240230000000", "2024-05-02T00:00", ""])
def test_parse_vn_time_names_the_field(text: str) -> None:
    with pytest.raises(VnpayFieldError, match="vnp_CreateDate"):
        parse_vn_time(text, "vnp_CreateDate")


def test_querydr_request_hash_joins_the_fields_with_pipes_in_order() -> None:
    body = {
        "vnp_RequestId": "a1b2c3",
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": "FEESDEMO",
        "vnp_TxnRef": "HS-2024-0001-a1",
        "vnp_TransactionDate": "20240501235959",
        "vnp_CreateDate": "20240502010000",
        "vnp_IpAddr": "10.0.0.5",
        "vnp_OrderInfo": "Truy van giao dich HS-2024-0001-a1",
    }
    message = (
        "a1b2c3|2.1.0|querydr|FEESDEMO|HS-2024-0001-a1|20240501235959|20240502010000|10.0.0.5"
        "|Truy van giao dich HS-2024-0001-a1"
    )
    assert querydr_request_hash(body, SECRET) == hand_hmac(message)


def test_querydr_response_hash_treats_missing_fields_as_empty() -> None:
    body = {
        "vnp_ResponseId": "r-1",
        "vnp_Command": "querydr",
        "vnp_ResponseCode": "00",
        "vnp_Message": "QueryDR Success",
        "vnp_TmnCode": "FEESDEMO",
        "vnp_TxnRef": "HS-1",
        "vnp_Amount": "15000000",
        "vnp_BankCode": "NCB",
        "vnp_PayDate": "20240502000005",
        "vnp_TransactionNo": "14000001",
        "vnp_TransactionType": "01",
        "vnp_TransactionStatus": "00",
        "vnp_OrderInfo": "Le phi",
    }
    message = (
        "r-1|querydr|00|QueryDR Success|FEESDEMO|HS-1|15000000|NCB|20240502000005|14000001|01|00"
        "|Le phi||"
    )
    assert querydr_response_hash(body, SECRET) == hand_hmac(message)


def test_a_signed_query_string_survives_url_decoding() -> None:
    signed = hand_signed(dict(PARAMS), SECRET)
    query = "&".join(f"{k}={quote_plus(v)}" for k, v in signed.items())
    assert verify(dict(parse_qsl(query, keep_blank_values=True)), SECRET)
