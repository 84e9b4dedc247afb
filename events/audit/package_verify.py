"""Verify an audit package from its files alone: what a third party runs (VERIFY.md, in Python).

It needs no database and no secret. It imports only the standard library, `cryptography`, the
hash chain's definition (events/chain.py) and the checkpoint message (events/audit/signing.py),
so an auditor can read every line a verdict depends on. Each event line is re-encoded with the
standard library's `json` (the same bytes as the store's canonical document, see
docs/event-store.md), re-hashed from the package's anchor and compared; then each checkpoint's
Ed25519 signature is checked and its signed head compared with the hash the lines give at its
position. The first bad line stops the walk: everything after a break is untrustworthy anyway.
"""

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from events.audit.errors import AuditKeyError
from events.audit.signing import (
    CHECKPOINT_FORMAT,
    CheckpointClaim,
    decode_key,
    key_id_for,
    signature_problem,
)
from events.chain import DOCUMENT_FIELDS, chain_hash

PACKAGE_FORMAT = "province-fees/audit-package/v1"
EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"
PROCEDURE_FILE = "VERIFY.md"
ENTRY_HASH_FIELD = "entry_hash"
LINE_FIELDS = frozenset((*DOCUMENT_FIELDS, ENTRY_HASH_FIELD))
HASH_CHUNK_BYTES = 1 << 20
LINE_BYTES_MAX = 4_000_000  # one event; the store refuses payloads anywhere near this
MANIFEST_BYTES_MAX = 64_000_000  # a year of daily checkpoints is ~200 KB
CHECKPOINTS_MAX = 100_000
_HEX_HASH = re.compile(r"^[0-9a-f]{64}$")


class PackageProblem(Exception):
    """One reason the package does not verify, worded for the person running the check."""


@dataclass
class PackageReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    event_count: int = 0
    first_bad_line: int | None = None
    signed: list[tuple[date, int, str]] = field(default_factory=list)  # (day, position, key id)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Manifest:
    anchor_position: int
    anchor_hash: bytes
    anchor_recorded_at: str
    first_position: int
    last_position: int
    last_entry_hash: bytes
    event_count: int
    events_sha256: str
    checkpoints: list[dict[str, Any]]
    first_day: date
    last_day: date
    after: str  # the events' recorded_at lie in (after, up_to], as the store writes instants
    up_to: str


def _refuse_float(text: str) -> Any:
    raise PackageProblem(f"the number {text} is not an integer (floats never occur in events)")


def _refuse_constant(text: str) -> Any:
    raise PackageProblem(f"{text} is not JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two equal keys would let two readers see two different events in one line."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PackageProblem(f"the key {key!r} appears twice")
        result[key] = value
    return result


def strict_json(text: str) -> Any:
    return json.loads(
        text,
        object_pairs_hook=_no_duplicate_keys,
        parse_float=_refuse_float,
        parse_constant=_refuse_constant,
    )


def canonical_bytes(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 as is: the chain's canonical encoding (events/chain.py)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _field(obj: Mapping[str, Any], name: str, kind: type, where: str = MANIFEST_FILE) -> Any:
    value = obj.get(name)
    if type(value) is not kind:
        raise PackageProblem(f"{where}: {name} is missing or not a {kind.__name__}")
    return value


def _hash_field(obj: Mapping[str, Any], name: str, where: str = MANIFEST_FILE) -> bytes:
    text = _field(obj, name, str, where)
    if not _HEX_HASH.match(text):
        raise PackageProblem(f"{where}: {name} is not 64 lower-case hex digits")
    return bytes.fromhex(text)


def _day_field(period: Mapping[str, Any], name: str) -> date:
    text = _field(period, name, str, "manifest.json period")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise PackageProblem(f"manifest.json period: {name} is not a date: {text!r}") from error


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_FILE
    if not path.is_file() or path.stat().st_size > MANIFEST_BYTES_MAX:
        raise PackageProblem(f"{MANIFEST_FILE} is missing or over {MANIFEST_BYTES_MAX} bytes")
    try:
        obj = strict_json(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageProblem(f"{MANIFEST_FILE} is not valid JSON: {error}") from error
    if type(obj) is not dict or obj.get("format") != PACKAGE_FORMAT:
        raise PackageProblem(f"{MANIFEST_FILE}: format is not {PACKAGE_FORMAT!r}")
    anchor = _field(obj, "anchor", dict)
    period = _field(obj, "period", dict)
    checkpoints = _field(obj, "checkpoints", list)
    if len(checkpoints) > CHECKPOINTS_MAX:
        raise PackageProblem(f"{MANIFEST_FILE}: more than {CHECKPOINTS_MAX} checkpoints")
    manifest = Manifest(
        anchor_position=_field(anchor, "position", int, "manifest.json anchor"),
        anchor_hash=_hash_field(anchor, "entry_hash", "manifest.json anchor"),
        anchor_recorded_at=_field(anchor, "recorded_at", str, "manifest.json anchor"),
        first_position=_field(obj, "first_position", int),
        last_position=_field(obj, "last_position", int),
        last_entry_hash=_hash_field(obj, "last_entry_hash"),
        event_count=_field(obj, "event_count", int),
        events_sha256=_hash_field(obj, "events_sha256").hex(),
        checkpoints=checkpoints,
        first_day=_day_field(period, "first_day"),
        last_day=_day_field(period, "last_day"),
        after=_field(period, "after", str, "manifest.json period"),
        up_to=_field(period, "up_to", str, "manifest.json period"),
    )
    if manifest.last_day < manifest.first_day:
        raise PackageProblem(f"{MANIFEST_FILE}: the period ends before it starts")
    if manifest.anchor_position < 0 or manifest.first_position != manifest.anchor_position + 1:
        raise PackageProblem(f"{MANIFEST_FILE}: first_position is not anchor position + 1")
    if manifest.last_position != manifest.anchor_position + manifest.event_count:
        raise PackageProblem(f"{MANIFEST_FILE}: last_position is not anchor + event_count")
    return manifest


def check_line(raw: bytes, position: int, previous_hash: bytes) -> tuple[bytes, str]:
    """One line of events.jsonl: its (entry_hash, recorded_at) once it follows its predecessor."""
    if len(raw) > LINE_BYTES_MAX:
        raise PackageProblem(f"the line is longer than {LINE_BYTES_MAX} bytes")
    if not raw.endswith(b"\n"):
        raise PackageProblem("the line does not end with a newline (the file was cut)")
    try:
        event = strict_json(raw[:-1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageProblem(f"not valid JSON: {error}") from error
    if type(event) is not dict or set(event) != LINE_FIELDS:
        raise PackageProblem(f"not an object with exactly the fields {sorted(LINE_FIELDS)}")
    if type(event["position"]) is not int or event["position"] != position:
        raise PackageProblem(f"position is {event['position']!r}, expected {position}")
    entry_hash = _hash_field(event, ENTRY_HASH_FIELD, "the line")
    del event[ENTRY_HASH_FIELD]
    if chain_hash(previous_hash, canonical_bytes(event)) != entry_hash:
        raise PackageProblem(
            "the event's content and the previous entry_hash do not give its entry_hash: "
            "the line (or one before it) was altered"
        )
    recorded_at = event["recorded_at"]
    return entry_hash, recorded_at if type(recorded_at) is str else ""


def claim_from_document(document: Any) -> tuple[CheckpointClaim, bytes, bytes]:
    """(claim, public key, signature) from a checkpoint's JSON form, strictly."""
    if type(document) is not dict or document.get("format") != CHECKPOINT_FORMAT:
        raise PackageProblem(f"a checkpoint whose format is not {CHECKPOINT_FORMAT!r}")
    try:
        where = "checkpoint"
        public_key = decode_key(_field(document, "public_key", str, where), "public_key")
        signature = base64.b64decode(_field(document, "signature", str, where), validate=True)
        claim = CheckpointClaim(
            business_date=date.fromisoformat(_field(document, "business_date", str, where)),
            position=_field(document, "position", int, where),
            head_hash=_hash_field(document, "head_hash", where),
            head_recorded_at=_field(document, "head_recorded_at", str, where),
            key_id=_field(document, "key_id", str, where),
        )
    except (ValueError, binascii.Error, AuditKeyError) as error:
        raise PackageProblem(f"a checkpoint is malformed: {error}") from error
    if key_id_for(public_key) != claim.key_id:
        raise PackageProblem(f"checkpoint of {claim.business_date}: key_id is not its key's id")
    if document.get("message") != claim.message().decode("utf-8"):
        raise PackageProblem(f"checkpoint of {claim.business_date}: message is not its fields")
    return claim, public_key, signature


@dataclass
class _Walk:
    """The walk's state: where it stands, and the hashes at the positions checkpoints sign."""

    position: int
    last_hash: bytes
    heads: dict[int, tuple[bytes, str]]  # position -> (entry_hash, recorded_at)
    line_count: int = 0
    complete: bool = False  # every line read and none was bad
    sha256: Any = field(default_factory=hashlib.sha256)


def _walk_events(directory: Path, manifest: Manifest, report: PackageReport) -> _Walk:
    """Re-hash every line from the anchor; stop at the first bad line and name it."""
    wanted = {_position_of(document) for document in manifest.checkpoints}
    walk = _Walk(manifest.anchor_position, manifest.anchor_hash, {})
    walk.heads[manifest.anchor_position] = (manifest.anchor_hash, manifest.anchor_recorded_at)
    path = directory / EVENTS_FILE
    if not path.is_file():
        report.problems.append(f"{EVENTS_FILE} is missing")
        return walk
    with path.open("rb") as events:
        for number in range(1, manifest.event_count + 2):  # +1: find lines beyond the count
            raw = events.readline(LINE_BYTES_MAX + 1)
            if not raw:
                break
            walk.sha256.update(raw)
            walk.line_count = number
            try:
                if number > manifest.event_count:
                    raise PackageProblem(
                        f"beyond the manifest's event_count {manifest.event_count}"
                    )
                entry_hash, recorded_at = check_line(raw, walk.position + 1, walk.last_hash)
                # Fixed-width UTC instants ("…T…Z", microseconds): text order is time order.
                if not manifest.after < recorded_at <= manifest.up_to:
                    raise PackageProblem(
                        f"recorded at {recorded_at}, outside the period "
                        f"({manifest.after}, {manifest.up_to}]"
                    )
            except PackageProblem as problem:
                report.first_bad_line = number
                report.problems.append(
                    f"{EVENTS_FILE} line {number} (position {walk.position + 1}): {problem}"
                )
                return walk
            walk.position, walk.last_hash = walk.position + 1, entry_hash
            if walk.position in wanted:
                walk.heads[walk.position] = (entry_hash, recorded_at)
        # The rest of the file, if any, in chunks: the loop ends with the file.
        while chunk := events.read(HASH_CHUNK_BYTES):
            walk.sha256.update(chunk)
    walk.complete = True
    return walk


def _position_of(document: Any) -> int:
    position = document.get("position") if type(document) is dict else None
    return position if type(position) is int else -1


def _check_totals(manifest: Manifest, walk: _Walk, report: PackageReport) -> None:
    if walk.line_count < manifest.event_count:
        report.problems.append(
            f"{EVENTS_FILE} has {walk.line_count} lines, the manifest's event_count is "
            f"{manifest.event_count}: lines were removed"
        )
    elif walk.last_hash != manifest.last_entry_hash:
        report.problems.append(f"{MANIFEST_FILE}: last_entry_hash is not the last line's hash")
    if walk.sha256.hexdigest() != manifest.events_sha256:
        report.problems.append(f"{EVENTS_FILE}: its SHA-256 is not the manifest's events_sha256")


def _check_checkpoint(
    document: Any, walk: _Walk, trusted: Mapping[str, bytes] | None, report: PackageReport
) -> None:
    """Signature by a trusted key, and the signed head equal to the package's at its position."""
    try:
        claim, public_key, signature = claim_from_document(document)
    except PackageProblem as problem:
        report.problems.append(f"{MANIFEST_FILE}: {problem}")
        return
    where = f"checkpoint of {claim.business_date} (position {claim.position})"
    keys = trusted if trusted is not None else {claim.key_id: public_key}
    bad_signature = signature_problem(claim, signature, keys)
    if bad_signature is not None:
        report.problems.append(f"{where}: {bad_signature}")
        return
    head = walk.heads.get(claim.position)
    if head is None:
        if walk.complete and claim.position > walk.position:
            report.problems.append(f"{where}: the lines end before it, at {walk.position}")
        elif walk.complete:  # otherwise the walk broke before it, and that line is reported
            report.problems.append(f"{where}: the position is outside this package")
        return
    if head != (claim.head_hash, claim.head_recorded_at):
        report.problems.append(
            f"{where}: the package gives hash {head[0].hex()} recorded at {head[1]}, the signed "
            f"head is {claim.head_hash.hex()} recorded at {claim.head_recorded_at}"
        )
        return
    report.signed.append((claim.business_date, claim.position, claim.key_id))


def verify_package(directory: Path, trusted: Mapping[str, bytes] | None = None) -> PackageReport:
    """Verify the package in `directory`. With `trusted` (key id -> raw public key, obtained from
    the province, not from the package) the period's end must be signed by one of those keys;
    without, the package's own keys are used and the report warns that they prove nothing alone."""
    report = PackageReport()
    try:
        manifest = read_manifest(directory)
    except PackageProblem as problem:
        report.problems.append(str(problem))
        return report
    walk = _walk_events(directory, manifest, report)
    report.event_count = walk.position - manifest.anchor_position
    if walk.complete:
        _check_totals(manifest, walk, report)
    for document in manifest.checkpoints:
        _check_checkpoint(document, walk, trusted, report)
    if trusted is None:
        report.warnings.append(
            "the checkpoints were checked with the public keys inside the package; compare their "
            "key ids with the province's published ones, or pass the province's public key"
        )
    if walk.complete:  # after a bad line, that line is the finding
        for message in _unsigned_bounds(manifest, report.signed):
            (report.problems if trusted is not None else report.warnings).append(message)
    return report


def _unsigned_bounds(manifest: Manifest, signed: list[tuple[date, int, str]]) -> list[str]:
    """The period's two ends must be signed days: its last day at last_position, and the day
    before it at the anchor (unless the period starts with the first event ever). Otherwise a
    package cut short at either end, its totals recomputed, would still read as the period."""
    missing, signed_at = [], {(day, position) for day, position, _ in signed}
    if (manifest.last_day, manifest.last_position) not in signed_at:
        missing.append(
            f"no valid checkpoint of the last day {manifest.last_day} signs the last position "
            f"{manifest.last_position}"
        )
    before = manifest.first_day - timedelta(days=1)
    if manifest.anchor_position > 0 and (before, manifest.anchor_position) not in signed_at:
        missing.append(
            f"no valid checkpoint of {before}, the day before the period, signs the anchor "
            f"position {manifest.anchor_position}"
        )
    return missing


def trusted_from_texts(texts: list[str]) -> dict[str, bytes]:
    """Trusted public keys from base64 texts (each as printed by `fees audit public-key`)."""
    keys = [decode_key(text, "public key") for text in texts]
    return {key_id_for(key): key for key in keys}
