"""Proves the checkpoint signature is what docs/audit.md says: keys are RFC 8032 Ed25519 keys in
base64, the key id is derived from the public key, the signed message has the documented bytes,
a signature verifies only for the exact claim and a trusted key, and a day can be signed only
once it has ended (plus the seal delay) in Asia/Ho_Chi_Minh."""

import base64
import hashlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from events.audit.checkpoints import DAY_SEAL_DELAY, day_end_at, ensure_sealed
from events.audit.errors import AuditKeyError, DayNotSealedError
from events.audit.signing import (
    CheckpointClaim,
    CheckpointSigner,
    claim_for,
    decode_key,
    generate_private_key,
    key_id_for,
    signature_problem,
    trusted_keys,
)
from schemas.time import BUSINESS_ZONE

# RFC 8032, section 7.1, TEST 1.
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
HEAD = bytes.fromhex("9f" * 32)


def signer() -> CheckpointSigner:
    return CheckpointSigner.from_base64(base64.b64encode(RFC_SECRET).decode())


def claim(**overrides: object) -> CheckpointClaim:
    fields: dict[str, object] = {
        "business_date": date(2026, 11, 24),
        "position": 1520,
        "head_hash": HEAD,
        "head_recorded_at": "2026-11-24T16:59:58.120531Z",
        "key_id": signer().key_id,
    }
    fields.update(overrides)
    return CheckpointClaim(**fields)  # type: ignore[arg-type]


def test_a_base64_key_loads_as_the_rfc_8032_key_and_its_id_is_derived() -> None:
    loaded = signer()
    assert loaded.public_key == RFC_PUBLIC
    assert loaded.key_id == hashlib.sha256(RFC_PUBLIC).hexdigest()[:16] == key_id_for(RFC_PUBLIC)


def test_the_signed_message_has_the_documented_bytes() -> None:
    key_id = signer().key_id
    expected = (
        f"province-fees/checkpoint/v1|2026-11-24|1520|{'9f' * 32}|"
        f"2026-11-24T16:59:58.120531Z|{key_id}"
    )
    assert claim().message() == expected.encode("utf-8")
    empty = claim(position=0, head_hash=bytes(32), head_recorded_at="none")
    assert empty.message().endswith(f"|0|{'00' * 32}|none|{key_id}".encode())


def test_claim_for_writes_the_instant_as_the_chain_does() -> None:
    hanoi = timezone(timedelta(hours=7))
    at = datetime(2026, 11, 24, 23, 59, 58, 120531, tzinfo=hanoi)
    made = claim_for(date(2026, 11, 24), 1520, HEAD, at, signer().key_id)
    assert made == claim()
    assert claim_for(date(2026, 11, 24), 0, bytes(32), None, signer().key_id).head_recorded_at == (
        "none"
    )


def test_a_signature_verifies_only_for_the_same_claim_and_a_trusted_key() -> None:
    province = signer()
    signature = province.sign(claim())
    trusted = trusted_keys([province.public_key])
    assert signature_problem(claim(), signature, trusted) is None
    assert "does not match" in str(signature_problem(claim(position=1521), signature, trusted))
    assert "does not match" in str(
        signature_problem(claim(head_hash=bytes(32)), signature, trusted)
    )
    other = CheckpointSigner(generate_private_key())
    assert "not a trusted key" in str(
        signature_problem(claim(), signature, trusted_keys([other.public_key]))
    )
    assert "64" in str(signature_problem(claim(), signature[:-1], trusted))


def test_a_signer_refuses_a_claim_naming_another_key() -> None:
    with pytest.raises(ValueError, match="claim names key"):
        signer().sign(claim(key_id="0" * 16))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not base64!", "not valid base64"),
        (base64.b64encode(bytes(31)).decode(), "31 bytes"),
        ("A" * 500, "not a base64 Ed25519 key"),
    ],
)
def test_malformed_keys_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(AuditKeyError, match=message):
        decode_key(text, "FEES_AUDIT_SIGNING_KEY")


@pytest.mark.parametrize(
    "overrides",
    [
        {"position": 0},  # position 0 has no recording time
        {"head_recorded_at": "none"},  # and only position 0 lacks one
        {"head_recorded_at": "2026-11-24T16:59:58Z"},  # not the canonical form
        {"key_id": "ABCDEF0123456789"},  # key ids are lower-case hex
        {"head_hash": b"short"},
        {"position": -1},
    ],
)
def test_malformed_claims_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        claim(**overrides)


def test_a_day_ends_at_local_midnight_and_is_sealed_after_the_delay() -> None:
    day = date(2026, 11, 24)
    end = day_end_at(day, BUSINESS_ZONE)
    assert end == datetime(2026, 11, 24, 16, 59, 59, 999999, tzinfo=UTC)
    sealed = end + timedelta(microseconds=1) + DAY_SEAL_DELAY
    with pytest.raises(DayNotSealedError, match="2026-11-24"):
        ensure_sealed(day, sealed - timedelta(microseconds=1), BUSINESS_ZONE)
    ensure_sealed(day, sealed, BUSINESS_ZONE)
