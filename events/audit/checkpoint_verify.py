"""Check every stored checkpoint: its signature, and that the chain still yields its head.

This is what catches someone with database access who rewrites an event and then recomputes
every later hash (and the head): `fees audit verify` finds such a chain consistent, but at the
position a checkpoint signed, the recomputed chain no longer produces the signed hash, and
without the province's private key nobody can sign the new one.

The walk starts at the genesis with the same ChainVerifier as `fees audit verify` (so it also
reports ordinary tampering), and compares the running head at each signed position.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise

from events.audit.checkpoints import CheckpointRepository, SignedCheckpoint
from events.audit.signing import NO_RECORDED_AT, signature_problem
from events.chain import ChainVerifier, format_instant
from events.store.postgres import PostgresEventStore
from events.store.verify import VERIFY_PAGE_SIZE


@dataclass(frozen=True)
class CheckpointFinding:
    business_date: date
    position: int
    problem: str  # "signature" | "head_mismatch" | "chain_broken" | "beyond_head" | "order"
    detail: str


@dataclass
class CheckpointReport:
    checked_count: int = 0
    findings: list[CheckpointFinding] = field(default_factory=list)
    missing_days: list[date] = field(default_factory=list)  # gaps between first and last day
    last_good_position: int = 0  # the highest signed position that still matches

    @property
    def intact(self) -> bool:
        return not self.findings


def _signature_findings(
    checkpoints: list[SignedCheckpoint], trusted: Mapping[str, bytes]
) -> list[CheckpointFinding]:
    findings = []
    for checkpoint in checkpoints:
        claim = checkpoint.claim
        problem = signature_problem(claim, checkpoint.signature, trusted)
        if problem is not None:
            findings.append(
                CheckpointFinding(claim.business_date, claim.position, "signature", problem)
            )
    return findings


def _order_findings(checkpoints: list[SignedCheckpoint]) -> list[CheckpointFinding]:
    """A later day can never have an earlier head: positions only grow."""
    findings = []
    for earlier, later in pairwise(checkpoints):
        if later.claim.position < earlier.claim.position:
            findings.append(
                CheckpointFinding(
                    later.claim.business_date,
                    later.claim.position,
                    "order",
                    f"its position is below {earlier.claim.position}, signed for "
                    f"{earlier.claim.business_date}",
                )
            )
    return findings


def _missing_days(checkpoints: list[SignedCheckpoint]) -> list[date]:
    days = {checkpoint.claim.business_date for checkpoint in checkpoints}
    if not days:
        return []
    first, last = min(days), max(days)
    return [
        first + timedelta(days=n)
        for n in range((last - first).days + 1)
        if first + timedelta(days=n) not in days
    ]


def _compare_head(
    checkpoint: SignedCheckpoint, verifier: ChainVerifier, report: CheckpointReport
) -> None:
    """Compare a checkpoint with the walk, which stands exactly at its position."""
    claim = checkpoint.claim
    recorded = verifier.last_recorded_at
    recorded_text = NO_RECORDED_AT if recorded is None else format_instant(recorded)
    if verifier.last_hash == claim.head_hash and recorded_text == claim.head_recorded_at:
        report.last_good_position = max(report.last_good_position, claim.position)
        return
    report.findings.append(
        CheckpointFinding(
            claim.business_date,
            claim.position,
            "head_mismatch",
            f"history after position {report.last_good_position} and up to {claim.position} was "
            f"rewritten after it was signed: the chain now gives {verifier.last_hash.hex()} "
            f"(recorded {recorded_text}), the signature covers {claim.head_hash.hex()} "
            f"(recorded {claim.head_recorded_at})",
        )
    )


def _unreached(checkpoint: SignedCheckpoint, verifier: ChainVerifier) -> CheckpointFinding:
    claim = checkpoint.claim
    if verifier.finding is not None:
        broken = verifier.finding
        return CheckpointFinding(
            claim.business_date,
            claim.position,
            "chain_broken",
            f"the chain breaks at position {broken.position} ({broken.problem}: {broken.detail})",
        )
    return CheckpointFinding(
        claim.business_date,
        claim.position,
        "beyond_head",
        f"the chain ends at position {verifier.last_position}: signed events were deleted",
    )


async def verify_checkpoints(
    store: PostgresEventStore,
    repository: CheckpointRepository,
    trusted: Mapping[str, bytes],
    *,
    page_size: int = VERIFY_PAGE_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
) -> CheckpointReport:
    """Verify every signature, then walk the chain once up to the highest signed position."""
    checkpoints = await repository.all()
    report = CheckpointReport(checked_count=len(checkpoints))
    report.findings.extend(_signature_findings(checkpoints, trusted))
    report.findings.extend(_order_findings(checkpoints))
    report.missing_days = _missing_days(checkpoints)
    stops = sorted(checkpoints, key=lambda checkpoint: checkpoint.claim.position)
    verifier = ChainVerifier()
    target = stops[-1].claim.position if stops else 0
    after, index = 0, 0
    while index < len(stops) and stops[index].claim.position == 0:
        _compare_head(stops[index], verifier, report)
        index += 1
    while verifier.finding is None and after < target:
        rows = await store.read_stored_page(after, target, page_size)
        if not rows:
            break
        for row in rows:
            if verifier.check(row) is not None:
                break
            while index < len(stops) and stops[index].claim.position == verifier.last_position:
                _compare_head(stops[index], verifier, report)
                index += 1
        after = int(rows[-1]["position"])
        if on_progress is not None:
            on_progress(verifier.checked_count, target)
    report.findings.extend(_unreached(stop, verifier) for stop in stops[index:])
    report.findings.sort(key=lambda finding: (finding.business_date, finding.problem))
    return report
