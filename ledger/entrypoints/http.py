"""Ledger routes: trial balance, daily balances and account statements (finance, auditor)."""

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict

from ledger.adapters.journal import Journal
from schemas.api.auth import Principal, Role

READERS = {Role.FINANCE, Role.AUDITOR}


class AccountTotalsView(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_code: str
    kind: str
    debit_minor: int
    credit_minor: int
    balance_minor: int


class TrialBalanceView(BaseModel):
    as_of: date | None
    accounts: list[AccountTotalsView]
    total_debit_minor: int
    total_credit_minor: int
    balanced: bool


class StatementLineView(BaseModel):
    position: int
    event_type: str
    occurred_at: datetime
    business_date: date
    description: str
    amount_minor: int
    balance_after_minor: int
    payment_id: str | None


class StatementView(BaseModel):
    account_code: str
    opening_balance_minor: int
    lines: list[StatementLineView]
    closing_balance_minor: int  # of every movement in [start, end), listed or not
    truncated: bool  # True: only the first 10,000 movements are listed; ask for a shorter period


def journal(request: Request) -> Journal:
    found: Journal = request.app.state.journal
    return found


def build_router(authenticate: Callable[..., Awaitable[Principal]]) -> APIRouter:
    async def reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in READERS:
            raise HTTPException(403, "the ledger is for finance and auditors")
        return principal

    router = APIRouter(prefix="/ledger", tags=["ledger"], dependencies=[Depends(reader)])
    Books = Annotated[Journal, Depends(journal)]

    @router.get("/trial-balance", response_model=TrialBalanceView)
    async def trial_balance(books: Books, as_of: date | None = None) -> TrialBalanceView:
        """Debits and credits per account up to a business day; balanced means they agree."""
        totals = await books.trial_balance(as_of)
        debit = sum(t.debit_minor for t in totals)
        credit = sum(t.credit_minor for t in totals)
        accounts = [
            AccountTotalsView(
                account_code=t.account_code,
                kind=t.kind.value,
                debit_minor=t.debit_minor,
                credit_minor=t.credit_minor,
                balance_minor=t.balance_minor,
            )
            for t in totals
        ]
        return TrialBalanceView(
            as_of=as_of, accounts=accounts, total_debit_minor=debit, total_credit_minor=credit,
            balanced=debit == credit,
        )  # fmt: skip

    @router.get("/accounts/{account_code}/statement", response_model=StatementView)
    async def statement(
        account_code: Annotated[str, Path(pattern=r"^[A-Z_]{2,40}:[A-Za-z0-9._\-]{1,80}$")],
        books: Books,
        start: datetime,
        end: datetime,
    ) -> StatementView:
        """The account's movements in [start, end) with the running balance."""
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise HTTPException(422, "start and end must be aware times with start < end")
        found = await books.statement(account_code, start, end)
        return StatementView(
            account_code=found.account_code,
            opening_balance_minor=found.opening_balance_minor,
            lines=[
                StatementLineView(
                    position=line.position,
                    event_type=line.event_type,
                    occurred_at=line.occurred_at,
                    business_date=line.business_date,
                    description=line.description,
                    amount_minor=line.amount_minor,
                    balance_after_minor=line.balance_after_minor,
                    payment_id=None if line.payment_id is None else str(line.payment_id),
                )
                for line in found.lines
            ],
            closing_balance_minor=found.closing_balance_minor,
            truncated=found.truncated,
        )

    return router
