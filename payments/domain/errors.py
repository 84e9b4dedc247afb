"""Expected rule violations of the payments context, each with a stable machine-readable code."""

from events.errors import DomainError


class PaymentsDomainError(DomainError):
    code = "payments_rule_violated"


class NotFoundError(PaymentsDomainError):
    code = "not_found"
    http_status = 404


class InvalidTransitionError(PaymentsDomainError):
    """A command that the current state does not allow, named with both."""

    code = "invalid_transition"
    http_status = 409

    def __init__(self, command: str, state: str, detail: str = "") -> None:
        message = f"cannot {command} a payment that is {state}"
        super().__init__(message + (f": {detail}" if detail else ""), command=command, state=state)


class AmountMismatchError(PaymentsDomainError):
    code = "amount_mismatch"

    def __init__(self, field: str, expected_minor: int, received_minor: int) -> None:
        super().__init__(
            f"{field} is {received_minor} VND, the payment is for {expected_minor} VND",
            field=field,
            expected_minor=expected_minor,
            received_minor=received_minor,
        )


class RefundExceedsCapturedError(PaymentsDomainError):
    code = "refund_exceeds_captured"

    def __init__(self, requested_minor: int, refundable_minor: int) -> None:
        super().__init__(
            f"a refund of {requested_minor} VND exceeds the {refundable_minor} VND refundable",
            field="amount_minor",
            requested_minor=requested_minor,
            refundable_minor=refundable_minor,
        )


class PaymentExpiredError(PaymentsDomainError):
    code = "payment_expired"
    http_status = 409


class ForbiddenError(PaymentsDomainError):
    """The caller's role or unit does not allow this on this dossier or payment."""

    code = "forbidden"
    http_status = 403
