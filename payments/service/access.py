"""Who may see or change which dossier or payment. Pure rules over the principal and the state."""

from payments.domain.errors import ForbiddenError
from payments.domain.payment import Payment
from schemas.api.auth import Principal, Role


def may_read(principal: Principal, citizen_id: str, unit_code: str) -> bool:
    match principal.role:
        case Role.CITIZEN:
            return principal.subject == citizen_id
        case Role.CLERK:
            return principal.unit_code == unit_code
        case Role.FINANCE | Role.AUDITOR:
            return True
    return False


def require_read(principal: Principal, citizen_id: str, unit_code: str, what: str) -> None:
    if not may_read(principal, citizen_id, unit_code):
        # Same answer as for a missing one would leak existence; 403 names only the rule.
        raise ForbiddenError(
            f"{principal.role.value} may not read this {what}", role=principal.role
        )


def require_owner(principal: Principal, citizen_id: str, what: str) -> None:
    if principal.role != Role.CITIZEN or principal.subject != citizen_id:
        raise ForbiddenError(f"only the citizen who filed it may {what}", role=principal.role)


def require_unit_clerk(principal: Principal, unit_code: str, what: str) -> None:
    if principal.role != Role.CLERK or principal.unit_code != unit_code:
        raise ForbiddenError(
            f"only a clerk of one-stop-shop {unit_code} may {what}", role=principal.role
        )


def require_refunder(principal: Principal, payment: Payment) -> None:
    """Refunds are approved by a clerk of the payment's unit or by finance."""
    if principal.role == Role.FINANCE:
        return
    require_unit_clerk(principal, payment.unit_code, "approve a refund")
