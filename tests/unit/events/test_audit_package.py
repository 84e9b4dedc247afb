"""Proves the audit package verifier on a small in-memory chain, without servers: a package built
by the exporter's own functions verifies; each event line re-encodes (with the standard library)
to exactly the chain's canonical document; an altered, removed, swapped or added line is named;
a manifest that lies, a checkpoint from an untrusted key, a rewrite whose hashes were all
recomputed, and a package cut short at either end of its period are caught by the signed heads.
Also proves the verifier depends on nothing but the standard library, cryptography and the
chain's definition, so an outsider can audit it."""

import ast
import hashlib
import json
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.audit.checkpoints import SignedCheckpoint
from events.audit.package_export import Period, build_manifest, event_line, write_json
from events.audit.package_verify import canonical_bytes, strict_json, verify_package
from events.audit.procedure import VERIFY_MD
from events.audit.signing import CheckpointSigner, claim_for, generate_private_key, trusted_keys
from events.chain import (
    GENESIS_HASH,
    canonical_document,
    canonical_payload,
    chain_hash,
    format_instant,
)
from schemas.time import BUSINESS_ZONE

ROOT = Path(__file__).resolve().parents[3]
DAY = date(2026, 11, 24)
ANCHOR = 3  # positions 1-3 were recorded the day before; the package holds 4-10
LAST = 10
THE_DAY = Period(DAY, DAY, BUSINESS_ZONE)
SIGNER = CheckpointSigner(generate_private_key())
TRUSTED = trusted_keys([SIGNER.public_key])


def row(position: int) -> dict[str, Any]:
    day = DAY if position > ANCHOR else DAY - timedelta(days=1)
    return {
        "position": position,
        "event_id": uuid.UUID(int=position),
        "stream_id": f"payment-{position % 3}",
        "stream_version": position,
        "event_type": "PaymentRequested",
        "schema_version": 1,
        "occurred_at": datetime(day.year, day.month, day.day, 3, tzinfo=UTC),
        "recorded_at": datetime(day.year, day.month, day.day, 3, position, tzinfo=UTC),
        "correlation_id": uuid.UUID(int=10_000 + position),
        "causation_id": None,
        "actor": "citizen:079123456789",
        "payload": {
            "amount": {"amount_minor": 50_000 + position, "currency": "VND"},
            "note": 'Phí hộ tịch "trích lục"\n\tbản sao',
        },
    }


def chain() -> list[dict[str, Any]]:
    rows, previous = [], GENESIS_HASH
    for position in range(1, LAST + 1):
        item = row(position)
        previous = chain_hash(previous, canonical_document(item))
        # As the store reads rows back for export: the payload's stored text beside it.
        rows.append(
            {**item, "payload_json": canonical_payload(item["payload"]), "entry_hash": previous}
        )
    return rows


def checkpoint(
    item: dict[str, Any], day: date, signer: CheckpointSigner = SIGNER
) -> SignedCheckpoint:
    claim = claim_for(day, item["position"], item["entry_hash"], item["recorded_at"], signer.key_id)
    return SignedCheckpoint(claim, signer.public_key, signer.sign(claim))


def write_package(
    directory: Path,
    rows: list[dict[str, Any]],
    checkpoints: list[SignedCheckpoint],
    *,
    period: Period = THE_DAY,
    anchor_at: int = ANCHOR,
) -> Path:
    """A package exactly as `export_package` writes one, from rows instead of the database."""
    directory.mkdir(parents=True)
    lines = b"".join(event_line(item) for item in rows[anchor_at:])
    (directory / "events.jsonl").write_bytes(lines)
    anchor = rows[anchor_at - 1]
    manifest = build_manifest(
        period,
        (anchor_at, anchor["entry_hash"], format_instant(anchor["recorded_at"])),
        rows[-1]["entry_hash"],
        LAST,
        hashlib.sha256(lines).hexdigest(),
        checkpoints,
    )
    write_json(directory / "manifest.json", manifest)
    (directory / "VERIFY.md").write_text(VERIFY_MD)
    return directory


def good_package(tmp_path: Path) -> Path:
    rows = chain()
    signed = [checkpoint(rows[ANCHOR - 1], DAY - timedelta(days=1)), checkpoint(rows[-1], DAY)]
    return write_package(tmp_path / "package", rows, signed)


def edit_line(package: Path, number: int, old: bytes, new: bytes) -> None:
    lines = (package / "events.jsonl").read_bytes().splitlines(keepends=True)
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    (package / "events.jsonl").write_bytes(b"".join(lines))


def test_a_line_reencodes_to_the_chains_canonical_document() -> None:
    for item in chain():
        parsed = strict_json(event_line(item).decode("utf-8"))
        assert bytes.fromhex(parsed.pop("entry_hash")) == item["entry_hash"]
        assert canonical_bytes(parsed) == canonical_document(item)


def test_an_exported_package_verifies_with_the_provinces_key(tmp_path: Path) -> None:
    report = verify_package(good_package(tmp_path), TRUSTED)
    assert report.ok, report.problems
    assert report.event_count == LAST - ANCHOR
    assert [(day, position) for day, position, _ in report.signed] == [
        (DAY - timedelta(days=1), ANCHOR),
        (DAY, LAST),
    ]
    assert report.warnings == []


def test_without_a_trusted_key_it_verifies_but_warns(tmp_path: Path) -> None:
    report = verify_package(good_package(tmp_path), None)
    assert report.ok and any("compare their key ids" in w for w in report.warnings)


def test_a_changed_digit_names_its_line(tmp_path: Path) -> None:
    package = good_package(tmp_path)
    edit_line(package, 4, b'"amount_minor":50007', b'"amount_minor":50008')
    report = verify_package(package, TRUSTED)
    assert report.first_bad_line == 4
    assert report.problems == [
        "events.jsonl line 4 (position 7): the event's content and the previous entry_hash do "
        "not give its entry_hash: the line (or one before it) was altered"
    ]


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        ("delete", 3, "position is 7, expected 6"),
        ("swap", 2, "position is 6, expected 5"),
        ("float", 5, "not an integer"),
        ("duplicate", 1, "appears twice"),
        ("truncate", 7, "does not end with a newline"),
    ],
)
def test_structural_damage_names_the_first_bad_line(
    tmp_path: Path, change: str, line: int, reason: str
) -> None:
    package = good_package(tmp_path)
    path = package / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    if change == "delete":
        del lines[2]
    elif change == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif change == "float":
        lines[4] = lines[4].replace(b'"amount_minor":50008', b'"amount_minor":50008.0')
    elif change == "duplicate":
        lines[0] = lines[0].replace(b'"actor":', b'"actor":"clerk:x","actor":', 1)
    else:
        lines[6] = lines[6][:-1]
    path.write_bytes(b"".join(lines))
    report = verify_package(package, TRUSTED)
    assert report.first_bad_line == line
    assert f"line {line} " in report.problems[0] and reason in report.problems[0]


def test_an_added_line_and_a_lying_manifest_are_caught(tmp_path: Path) -> None:
    package = good_package(tmp_path)
    with (package / "events.jsonl").open("ab") as events:
        events.write(b"{}\n")
    assert verify_package(package, TRUSTED).problems == [
        "events.jsonl line 8 (position 11): beyond the manifest's event_count 7"
    ]

    package = good_package(tmp_path / "second")
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["events_sha256"] = "0" * 64
    (package / "manifest.json").write_text(json.dumps(manifest))
    assert verify_package(package, TRUSTED).problems == [
        "events.jsonl: its SHA-256 is not the manifest's events_sha256"
    ]


def test_a_rewrite_with_every_hash_recomputed_fails_at_the_signed_head(tmp_path: Path) -> None:
    """The intruder's best effort: change an amount, recompute every later hash, the manifest's
    totals and file hash. The lines chain again; only the signature over the head disagrees."""
    honest = chain()
    signed = [checkpoint(honest[ANCHOR - 1], DAY - timedelta(days=1)), checkpoint(honest[-1], DAY)]
    forged, previous = [], honest[ANCHOR - 1]["entry_hash"]
    for item in honest:
        if item["position"] <= ANCHOR:
            forged.append(item)
            continue
        content = {key: value for key, value in item.items() if key != "entry_hash"}
        if item["position"] == 6:
            content["payload"] = {**content["payload"], "amount": {"amount_minor": 1}}
            content["payload_json"] = canonical_payload(content["payload"])
        previous = chain_hash(previous, canonical_document(content))
        forged.append({**content, "entry_hash": previous})
    report = verify_package(write_package(tmp_path / "forged", forged, signed), TRUSTED)
    assert report.first_bad_line is None
    assert len(report.problems) == 2, report.problems
    assert report.problems[0].startswith(f"checkpoint of {DAY} (position {LAST}): the package ")
    assert (
        report.problems[1]
        == f"no valid checkpoint of the last day {DAY} signs the last position {LAST}"
    )


def test_a_package_cut_short_at_either_end_does_not_verify(tmp_path: Path) -> None:
    """Both ends of the period must be signed days: a package that claims a day more than its
    checkpoints sign, or whose first lines were dropped (the anchor moved up, the totals
    recomputed), is refused, although every line still chains."""
    rows = chain()
    signed = [checkpoint(rows[ANCHOR - 1], DAY - timedelta(days=1)), checkpoint(rows[-1], DAY)]
    longer = Period(DAY, DAY + timedelta(days=1), BUSINESS_ZONE)
    claimed = verify_package(write_package(tmp_path / "a", rows, signed, period=longer), TRUSTED)
    assert claimed.problems == [
        f"no valid checkpoint of the last day {DAY + timedelta(days=1)} signs the last position "
        f"{LAST}"
    ]
    late_start = write_package(tmp_path / "b", rows, signed, anchor_at=ANCHOR + 2)
    assert verify_package(late_start, TRUSTED).problems[-1] == (
        f"no valid checkpoint of {DAY - timedelta(days=1)}, the day before the period, signs "
        f"the anchor position {ANCHOR + 2}"
    )


def test_an_event_recorded_outside_the_period_is_named(tmp_path: Path) -> None:
    rows = chain()
    signed = [checkpoint(rows[ANCHOR - 1], DAY - timedelta(days=1)), checkpoint(rows[-1], DAY)]
    earlier = Period(DAY - timedelta(days=2), DAY - timedelta(days=2), BUSINESS_ZONE)
    report = verify_package(write_package(tmp_path / "p", rows, signed, period=earlier), TRUSTED)
    assert report.first_bad_line == 1
    assert "outside the period" in report.problems[0]


def test_a_checkpoint_from_an_untrusted_key_does_not_count(tmp_path: Path) -> None:
    rows = chain()
    intruder = CheckpointSigner(generate_private_key())
    package = write_package(tmp_path / "p", rows, [checkpoint(rows[-1], DAY, intruder)])
    problems = verify_package(package, TRUSTED).problems
    assert f"signed by key {intruder.key_id}, which is not a trusted key" in problems[0]
    assert (
        problems[1] == f"no valid checkpoint of the last day {DAY} signs the last position {LAST}"
    )


def test_the_verifier_imports_only_what_an_outsider_can_audit() -> None:
    allowed_ours = {"events.chain", "events.errors", "events.audit.signing", "events.audit.errors"}
    for module in ("package_verify", "signing", "errors"):
        tree = ast.parse((ROOT / "events" / "audit" / f"{module}.py").read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                root = name.split(".")[0]
                assert (
                    root in sys.stdlib_module_names
                    or root == "cryptography"
                    or name in allowed_ours
                ), f"events/audit/{module}.py imports {name}"
