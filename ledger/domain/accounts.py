"""The chart of accounts, as a finance officer of the province would read it.

Account codes are `<CLASS>:<qualifier>`: the class fixes the account's kind and normal side; the
qualifier names the gateway, bank account, one-stop-shop or agency it is kept for.
"""

from enum import StrEnum


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"


class AccountClass(StrEnum):
    """(name, kind) of every class of account the posting rules use."""

    GATEWAY_CLEARING = "GATEWAY_CLEARING"  # money the gateway holds for us, per gateway
    BANK = "BANK"  # the treasury / bank accounts that settlements reach, per account
    CASH_ON_HAND = "CASH_ON_HAND"  # cash taken at a one-stop-shop's counter, per unit
    POS_CLEARING = "POS_CLEARING"  # card payments at a counter, until the acquirer settles
    FEE_REVENUE = "FEE_REVENUE"  # fees earned, per agency (procedure in the posting's dimensions)
    GATEWAY_FEE_EXPENSE = "GATEWAY_FEE_EXPENSE"  # what gateways keep from settlements
    # What a counter's cash or card settlement came short of what was taken (a second officer
    # approved the match), per unit: a shortage to investigate, never a gateway's fee.
    SETTLEMENT_SHORTFALL = "SETTLEMENT_SHORTFALL"
    REFUNDS_PAYABLE = "REFUNDS_PAYABLE"  # refunds approved and owed to citizens, per agency
    SUSPENSE = "SUSPENSE"  # received but not (yet) a fee: late, double or unidentified money


ACCOUNT_KINDS: dict[AccountClass, AccountKind] = {
    AccountClass.GATEWAY_CLEARING: AccountKind.ASSET,
    AccountClass.BANK: AccountKind.ASSET,
    AccountClass.CASH_ON_HAND: AccountKind.ASSET,
    AccountClass.POS_CLEARING: AccountKind.ASSET,
    AccountClass.FEE_REVENUE: AccountKind.REVENUE,
    AccountClass.GATEWAY_FEE_EXPENSE: AccountKind.EXPENSE,
    AccountClass.SETTLEMENT_SHORTFALL: AccountKind.EXPENSE,
    AccountClass.REFUNDS_PAYABLE: AccountKind.LIABILITY,
    AccountClass.SUSPENSE: AccountKind.LIABILITY,
}

ACCOUNT_NAMES: dict[AccountClass, str] = {
    AccountClass.GATEWAY_CLEARING: "Gateway clearing",
    AccountClass.BANK: "Bank / treasury account",
    AccountClass.CASH_ON_HAND: "Cash on hand at the one-stop-shop",
    AccountClass.POS_CLEARING: "Card (POS) clearing at the one-stop-shop",
    AccountClass.FEE_REVENUE: "Fee revenue",
    AccountClass.GATEWAY_FEE_EXPENSE: "Gateway fee expense",
    AccountClass.SETTLEMENT_SHORTFALL: "Counter settlement shortfall",
    AccountClass.REFUNDS_PAYABLE: "Refunds payable",
    AccountClass.SUSPENSE: "Suspense: unidentified and unapplied receipts",
}


def account(account_class: AccountClass, qualifier: str) -> str:
    return f"{account_class.value}:{qualifier}"


def class_of(account_code: str) -> AccountClass:
    return AccountClass(account_code.split(":", 1)[0])


def kind_of(account_code: str) -> AccountKind:
    return ACCOUNT_KINDS[class_of(account_code)]
