"""Read-only audit routes for the auditor role: the trail of a payment or dossier, an account's
balance and a payment's state at a point in time, and the hash chain's verdict."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel

from entrypoints.audit_queries import TrailEntry, balance_at, payment_at, position_at, trail
from entrypoints.bootstrap import Runtime
from events.store.verify import verify_chain
from schemas.api.auth import Principal, Role

AUDITORS = {Role.AUDITOR}


class BalanceView(BaseModel):
    account_code: str
    position: int
    balance_minor: int  # debits minus credits
    posting_count: int


class PaymentStateView(BaseModel):
    payment_id: UUID
    position: int
    status: str
    due_minor: int
    captured_minor: int
    refunded_minor: int
    receipt_number: str | None


class ChainView(BaseModel):
    intact: bool
    checked_count: int
    head_position: int
    head_hash_hex: str
    first_bad_position: int | None
    problem: str | None


def _runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def build_router(authenticate: Callable[..., Awaitable[Principal]]) -> APIRouter:
    async def auditor(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in AUDITORS:
            raise HTTPException(403, "the audit routes are for auditors")
        return principal

    router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(auditor)])
    Rt = Annotated[Runtime, Depends(_runtime)]
    At = Annotated[AwareDatetime | None, Query(description="Default: now (the store's head).")]

    @router.get("/trail/{kind}/{identifier}", response_model=list[TrailEntry])
    async def get_trail(
        kind: Literal["payment", "dossier"], identifier: UUID, rt: Rt
    ) -> list[TrailEntry]:
        """Every event of a dossier or payment, across its streams, in recorded order."""
        entries = await trail(rt.store, rt.pool, kind, identifier)
        if not entries:
            raise HTTPException(404, f"no {kind} {identifier}")
        return entries

    @router.get("/accounts/{account_code}/balance", response_model=BalanceView)
    async def get_balance(account_code: str, rt: Rt, at: At = None) -> BalanceView:
        """An account's balance as the events recorded up to `at` say."""
        position = await position_at(rt.store, at)
        balance, postings = await balance_at(rt.pool, account_code, position)
        return BalanceView(account_code=account_code, position=position,
                           balance_minor=balance, posting_count=postings)  # fmt: skip

    @router.get("/payments/{payment_id}", response_model=PaymentStateView)
    async def get_payment(payment_id: UUID, rt: Rt, at: At = None) -> PaymentStateView:
        """A payment's state as its events recorded up to `at` say."""
        position = await position_at(rt.store, at)
        state = await payment_at(rt.store, rt.registry, payment_id, position)
        if state is None:
            raise HTTPException(404, f"payment {payment_id} did not exist at position {position}")
        return PaymentStateView(
            payment_id=payment_id, position=position, status=state.status.value,
            due_minor=state.due_minor, captured_minor=state.captured_minor,
            refunded_minor=state.refunded_minor, receipt_number=state.receipt_number,
        )  # fmt: skip

    @router.get("/chain", response_model=ChainView)
    async def get_chain(rt: Rt) -> ChainView:
        """Walk the whole hash chain: intact, or the first altered position and what is wrong."""
        report = await verify_chain(rt.store)
        finding = report.finding
        return ChainView(
            intact=report.intact, checked_count=report.checked_count,
            head_position=report.head_position, head_hash_hex=report.head_hash_hex,
            first_bad_position=None if finding is None else finding.position,
            problem=None if finding is None else f"{finding.problem}: {finding.detail}",
        )  # fmt: skip

    return router
