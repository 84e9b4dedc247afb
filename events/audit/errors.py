"""Expected failures of the audit tools. Each is an EventStoreError, so the CLI prints its code
and message in one line and exits 2 (a refusal), distinct from exit 1 (evidence of tampering)."""

from datetime import date

from events.errors import EventStoreError


class AuditError(EventStoreError):
    code = "audit_error"


class AuditKeyError(AuditError):
    """A signing or public key is missing or not a base64 raw 32-byte Ed25519 key."""

    code = "audit_key_invalid"


class DayNotSealedError(AuditError):
    """The business day has not ended (plus the seal delay), so its head could still move."""

    code = "day_not_sealed"

    def __init__(self, day: date, sealed_at: str) -> None:
        self.day = day
        super().__init__(f"business day {day} is not sealed yet; it can be signed from {sealed_at}")


class DayNotSignedError(AuditError):
    """A package must end on a signed day: that checkpoint is what makes every line verifiable."""

    code = "day_not_signed"

    def __init__(self, day: date) -> None:
        self.day = day
        super().__init__(
            f"business day {day} has no checkpoint; run `fees audit checkpoint --day {day}` first"
        )


class CheckpointConflictError(AuditError):
    """A checkpoint for this day is stored with other content: checkpoints are write-once."""

    code = "checkpoint_conflict"

    def __init__(self, day: date, differences: list[str]) -> None:
        self.day = day
        self.differences = differences
        super().__init__(
            f"a different checkpoint for {day} is already stored ({'; '.join(differences)}); "
            "checkpoints are write-once, run `fees audit verify-checkpoints`"
        )


class ChainBrokenError(AuditError):
    """The stored chain does not hold together where the audit tool needed it to."""

    code = "chain_broken"

    def __init__(self, position: int, detail: str) -> None:
        self.position = position
        super().__init__(f"the hash chain breaks at position {position}: {detail}")


class PackageOutputError(AuditError):
    code = "package_output_refused"
