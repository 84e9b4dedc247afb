"""Who is calling: the roles of the service and the principal a bearer token names."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    CITIZEN = "citizen"  # pays and follows their own dossiers
    CLERK = "clerk"  # one-stop-shop staff: counter payments and refunds for their own unit
    FINANCE = "finance"  # reconciliation, refunds anywhere, exceptions
    AUDITOR = "auditor"  # reads everything, changes nothing
    SYSTEM = "system"  # the service itself (gateway callbacks, sweepers); never in a token


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(pattern=r"^[A-Za-z0-9_.@:\-]{1,120}$")  # CCCD number for citizens
    role: Role
    unit_code: str | None = None  # a clerk's one-stop-shop

    @property
    def actor(self) -> str:
        """The envelope's actor field: '<role>:<subject>'."""
        return f"{self.role.value}:{self.subject}"
