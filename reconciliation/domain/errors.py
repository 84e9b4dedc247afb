"""Expected rule violations of reconciliation, each with a stable machine-readable code."""

from events.errors import DomainError


class ReconciliationError(DomainError):
    code = "reconciliation_rule_violated"


class NotFoundError(ReconciliationError):
    code = "not_found"
    http_status = 404


class DayClosedError(ReconciliationError):
    code = "day_closed"
    http_status = 409


class DuplicateImportError(ReconciliationError):
    code = "duplicate_import"
    http_status = 409


class ItemNotOpenError(ReconciliationError):
    """A line or payment named in a decision is already matched (or does not exist)."""

    code = "item_not_open"
    http_status = 409


class FourEyesError(ReconciliationError):
    """Maker-checker: the officer who proposed a decision cannot approve it."""

    code = "four_eyes_required"
    http_status = 403


class DecisionStateError(ReconciliationError):
    code = "decision_not_pending"
    http_status = 409


class DayNotReadyError(ReconciliationError):
    """The day cannot close while some of its own bank lines are unresolved."""

    code = "day_not_ready"
    http_status = 409


class SettlementBusyError(ReconciliationError):
    """Another match run or decision held the settlement lock for longer than a request waits."""

    code = "settlement_busy"
    http_status = 409


class RulesError(ReconciliationError):
    code = "invalid_rules"
