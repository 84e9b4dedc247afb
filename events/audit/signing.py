"""Ed25519 signatures over the chain's head at a day's end: keys, key ids, the signed message.

Why a signature on top of the hash chain: the chain proves that no row was edited, unless someone
edits a row *and* recomputes every later hash (the algorithm is public by design). A signature
made with a key that never lives in the database, over the head as it stood when the day ended,
catches exactly that rewrite: the recomputed chain no longer yields the signed hash.

Pure, and it imports only the standard library, `cryptography` and the event-store error and
chain modules, so an auditor can read everything a verification depends on in one sitting.
Key text is standard base64 (RFC 4648, with padding) of the raw 32-byte keys of RFC 8032.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from events.audit.errors import AuditKeyError
from events.chain import HASH_SIZE_BYTES, format_instant

CHECKPOINT_FORMAT = "province-fees/checkpoint/v1"
KEY_SIZE_BYTES = 32
SIGNATURE_SIZE_BYTES = 64
KEY_ID_HEX_LENGTH = 16
NO_RECORDED_AT = "none"  # the head of an empty chain (position 0) has no recording time
KEY_TEXT_LENGTH_MAX = 200  # a key is 44 base64 characters; anything much longer is not a key

_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
_KEY_ID = re.compile(rf"^[0-9a-f]{{{KEY_ID_HEX_LENGTH}}}$")


def decode_key(text: str, what: str) -> bytes:
    """The 32 raw bytes of a key written as base64; a clear error names what was expected."""
    cleaned = text.strip()
    if len(cleaned) > KEY_TEXT_LENGTH_MAX:
        raise AuditKeyError(f"{what} is {len(cleaned)} characters, not a base64 Ed25519 key")
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as error:
        raise AuditKeyError(f"{what} is not valid base64: {error}") from error
    if len(raw) != KEY_SIZE_BYTES:
        raise AuditKeyError(f"{what} decodes to {len(raw)} bytes, an Ed25519 key has 32")
    return raw


def encode_base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_id_for(public_key: bytes) -> str:
    """First 16 hex digits of SHA-256(raw public key): names a key in messages and file names."""
    return hashlib.sha256(public_key).hexdigest()[:KEY_ID_HEX_LENGTH]


def generate_private_key() -> bytes:
    """A fresh raw 32-byte Ed25519 private key (from the operating system's random source)."""
    return Ed25519PrivateKey.generate().private_bytes_raw()


@dataclass(frozen=True)
class CheckpointClaim:
    """What a checkpoint asserts: at the end of `business_date`, the chain's head was `position`
    with `head_hash`, recorded at `head_recorded_at` (canonical UTC text, or "none")."""

    business_date: date
    position: int
    head_hash: bytes
    head_recorded_at: str
    key_id: str

    def __post_init__(self) -> None:
        if self.position < 0:
            raise ValueError(f"position {self.position} is negative")
        if len(self.head_hash) != HASH_SIZE_BYTES:
            raise ValueError(f"head hash has {len(self.head_hash)} bytes, not {HASH_SIZE_BYTES}")
        if (self.position == 0) != (self.head_recorded_at == NO_RECORDED_AT):
            raise ValueError("only position 0 (an empty chain) has no recording time")
        if self.position and not _INSTANT.match(self.head_recorded_at):
            raise ValueError(f"{self.head_recorded_at!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
        if not _KEY_ID.match(self.key_id):
            raise ValueError(f"key id {self.key_id!r} is not {KEY_ID_HEX_LENGTH} lower-case hex")

    def message(self) -> bytes:
        """The exact bytes signed (docs/audit.md): six fields joined by "|", UTF-8."""
        fields = (
            CHECKPOINT_FORMAT,
            self.business_date.isoformat(),
            str(self.position),
            self.head_hash.hex(),
            self.head_recorded_at,
            self.key_id,
        )
        return "|".join(fields).encode("utf-8")


def claim_for(
    business_date: date,
    position: int,
    head_hash: bytes,
    head_recorded_at: datetime | None,
    key_id: str,
) -> CheckpointClaim:
    """A claim from stored values; the instant is written exactly as the chain writes it."""
    recorded_text = NO_RECORDED_AT if head_recorded_at is None else format_instant(head_recorded_at)
    return CheckpointClaim(business_date, position, bytes(head_hash), recorded_text, key_id)


class CheckpointSigner:
    """The province's private key. Built from configuration only, never from code."""

    def __init__(self, private_key: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(private_key)
        self.public_key = self._key.public_key().public_bytes_raw()
        self.key_id = key_id_for(self.public_key)

    @classmethod
    def from_base64(cls, text: str) -> "CheckpointSigner":
        return cls(decode_key(text, "FEES_AUDIT_SIGNING_KEY"))

    def sign(self, claim: CheckpointClaim) -> bytes:
        if claim.key_id != self.key_id:
            raise ValueError(f"claim names key {claim.key_id}, this key is {self.key_id}")
        return self._key.sign(claim.message())


def trusted_keys(public_keys: list[bytes]) -> dict[str, bytes]:
    """Public keys by key id: what a verifier accepts (the current key and the rotated-out ones)."""
    return {key_id_for(key): key for key in public_keys}


def signature_problem(
    claim: CheckpointClaim, signature: bytes, trusted: Mapping[str, bytes]
) -> str | None:
    """None when a trusted key with the claim's key id signed exactly this claim, else why not."""
    public_key = trusted.get(claim.key_id)
    if public_key is None:
        known = ", ".join(sorted(trusted)) or "none"
        return f"signed by key {claim.key_id}, which is not a trusted key (trusted: {known})"
    if len(signature) != SIGNATURE_SIZE_BYTES:
        return f"the signature has {len(signature)} bytes, an Ed25519 signature has 64"
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, claim.message())
    except InvalidSignature:
        return f"the signature does not match the checkpoint's content (key {claim.key_id})"
    return None
