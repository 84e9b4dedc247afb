"""Matching rules as versioned data: which account each kind of money settles to, after what lag,
net of what fee, and how tolerant matching may be.

A version applies from its `effective_from` business day on. A run records the version's name
and content hash, so re-running a past day with the rules in force that day gives the same result,
and a silent edit of an old version shows up as a different hash.
"""

import hashlib
from collections.abc import Sequence
from datetime import date, time
from typing import Annotated, Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from reconciliation.domain.errors import RulesError
from schemas.events.reconciliation_v1 import BankAccount
from schemas.money import AmountMinor

ClearingKind = Literal["gateway", "pos", "cash", "refunds"]
BASIS_POINTS = 10_000


class Route(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    clearing_kind: ClearingKind
    qualifier: Annotated[str, Field(pattern=r"^(\*|[A-Z0-9._\-]{1,64})$")]  # "*": any
    bank_account: BankAccount
    lag_banking_days: Annotated[StrictInt, Field(ge=0, le=30)]
    cut_off_local: time  # captured at or after this local time: counts to the next day
    lump: bool  # True: the gateway credits one net amount per day instead of one per payment
    fee_bps: Annotated[StrictInt, Field(ge=0, le=BASIS_POINTS)]
    fee_fixed_minor: AmountMinor
    fee_tolerance_minor: AmountMinor
    lump_markers: Annotated[list[str], Field(max_length=10)]  # text that names the gateway

    def serves(self, kind: str, qualifier: str) -> bool:
        return self.clearing_kind == kind and self.qualifier in ("*", qualifier)

    def fee_for(self, gross_minor: int) -> int:
        """The gateway's fee on one payment: basis points rounded half up, plus the fixed part."""
        return (gross_minor * self.fee_bps + BASIS_POINTS // 2) // BASIS_POINTS + (
            self.fee_fixed_minor
        )

    def fees_explained(self, gross_amounts: Sequence[int]) -> int:
        """The most the bank may credit short of these items and the gap still be its fees."""
        return sum(self.fee_for(gross) for gross in gross_amounts) + self.fee_tolerance_minor


class MatchingRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z._\-]{1,40}$")]
    effective_from: date
    amount_date_window_banking_days: Annotated[StrictInt, Field(ge=0, le=30)]
    note_confidence_min: Annotated[StrictInt, Field(ge=0, le=100)]
    approval_limit_minor: AmountMinor  # manual decisions above this need a second officer
    routes: Annotated[list[Route], Field(min_length=1, max_length=100)]
    # A line citing a settled item whose money moved the other way (a debit citing a paid fee,
    # "HOAN TIEN TT…": a refund or a reversal of it; a credit citing a paid-out refund):
    # "duplicate" flags it as a second settlement of that item (versions up to 2026.1);
    # "to_person" leaves it to a finance officer, as an unmatched line naming the item.
    settled_cited_the_other_way: Literal["duplicate", "to_person"] = "duplicate"

    @property
    def fingerprint(self) -> str:
        """`<version>+<first 12 hex of the SHA-256 of the canonical rules>`. Settings left at
        their defaults are not hashed, so adding a setting leaves every older version's
        fingerprint (which past runs recorded) as it was."""
        dumped = self.model_dump(mode="json", exclude_defaults=True)
        canonical = orjson.dumps(dumped, option=orjson.OPT_SORT_KEYS)
        return f"{self.version}+{hashlib.sha256(canonical).hexdigest()[:12]}"

    def route_for(self, kind: str, qualifier: str) -> Route | None:
        return next((route for route in self.routes if route.serves(kind, qualifier)), None)

    def accounts(self) -> list[str]:
        return sorted({route.bank_account for route in self.routes})


class RulesBook(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    versions: Annotated[list[MatchingRules], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        check_versions(self.versions)
        return self

    def in_force_on(self, business_date: date) -> MatchingRules:
        eligible = [rules for rules in self.versions if rules.effective_from <= business_date]
        if not eligible:
            raise RulesError(f"no matching rules in force on {business_date}")
        return max(eligible, key=lambda rules: rules.effective_from)

    def by_fingerprint(self, fingerprint: str) -> MatchingRules:
        for rules in self.versions:
            if rules.fingerprint == fingerprint:
                return rules
        raise RulesError(f"no rules version with fingerprint {fingerprint!r}")


def check_versions(versions: Sequence[MatchingRules]) -> None:
    names = [rules.version for rules in versions]
    days = [rules.effective_from for rules in versions]
    if len(set(names)) != len(names) or len(set(days)) != len(days):
        raise RulesError("rules versions must have distinct names and effective dates")
