"""Stage 4: a gateway's daily lump. The gateway credits one amount per capture day, net of its
fees; the line matches all of that day's items when the fee it implies is within the route's
tolerance of the fee the rules expect. A lump that fits no day but all open days together (a
gateway paying Friday to Sunday at once) matches them all. A lump outside tolerance is an
exception naming the day it most likely pays."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from reconciliation.domain.items import BankLine, ExpectedItem
from reconciliation.domain.references import fold
from reconciliation.domain.rules import MatchingRules, Route
from schemas.events.reconciliation_v1 import Direction, ExceptionKind

CONFIDENCE_LUMP_EXACT = 100
CONFIDENCE_LUMP_WITHIN_TOLERANCE = 90


@dataclass(frozen=True)
class LumpOutcome:
    matched: bool
    confidence: int = 0
    exception_kind: ExceptionKind = ExceptionKind.FEE_BEYOND_TOLERANCE
    detail: str = ""


LumpResult = tuple[list[BankLine], list[ExpectedItem], LumpOutcome]


def expected_net(route: Route, items: list[ExpectedItem]) -> int:
    return sum(item.amount_minor - route.fee_for(item.amount_minor) for item in items)


def _fits(route: Route, line: BankLine, items: list[ExpectedItem]) -> bool:
    gross = sum(item.amount_minor for item in items)
    return (
        line.amount_minor <= gross
        and abs(line.amount_minor - expected_net(route, items)) <= route.fee_tolerance_minor
    )


def _names_gateway(route: Route, line: BankLine) -> bool:
    text = fold(f"{line.counterparty or ''} {line.remittance_info or ''}")
    return any(fold(marker) in text for marker in route.lump_markers)


def _one_route(
    route: Route, lines: list[BankLine], items: list[ExpectedItem], day: date
) -> list[LumpResult]:
    groups: dict[date, list[ExpectedItem]] = defaultdict(list)
    for item in sorted(items, key=lambda item: str(item.item_id)):
        if item.route == route and item.due_on <= day:
            groups[item.taken_on].append(item)
    results: list[LumpResult] = []
    matched_amounts: set[int] = set()
    for line in lines:
        fitting = [taken for taken in sorted(groups) if _fits(route, line, groups[taken])]
        everything = [item for taken in sorted(groups) for item in groups[taken]]
        if fitting:
            chosen = [fitting[0]]  # equal candidates: the oldest day is paid first
        elif len(groups) > 1 and _fits(route, line, everything):
            chosen = sorted(groups)
        elif line.amount_minor in matched_amounts:
            results.append(
                (
                    [line],
                    [],
                    LumpOutcome(
                        False,
                        exception_kind=ExceptionKind.DUPLICATE_SETTLEMENT,
                        detail="a second lump of the same amount on the same day",
                    ),
                )
            )
            continue
        elif groups:
            taken = min(
                groups, key=lambda d: abs(expected_net(route, groups[d]) - line.amount_minor)
            )
            net = expected_net(route, groups[taken])
            detail = (
                f"lump of {line.amount_minor} VND for {taken}: expected {net} VND net, "
                f"difference {line.amount_minor - net} beyond ±{route.fee_tolerance_minor}"
            )
            results.append(([line], groups.pop(taken), LumpOutcome(False, detail=detail)))
            continue
        else:
            continue  # nothing due from this gateway: later stages or a person decide
        paid = [item for taken in chosen for item in groups.pop(taken)]
        exact = line.amount_minor == expected_net(route, paid)
        confidence = CONFIDENCE_LUMP_EXACT if exact else CONFIDENCE_LUMP_WITHIN_TOLERANCE
        results.append(([line], paid, LumpOutcome(True, confidence)))
        matched_amounts.add(line.amount_minor)
    return results


def match_lumps(
    lines: Iterable[BankLine], items: Iterable[ExpectedItem], rules: MatchingRules, day: date
) -> list[LumpResult]:
    line_list = sorted(lines, key=lambda line: line.key)
    item_list = list(items)
    results: list[LumpResult] = []
    for route in (route for route in rules.routes if route.lump):
        candidates = [
            line
            for line in line_list
            if line.direction is Direction.CREDIT
            and line.bank_account == route.bank_account
            and _names_gateway(route, line)
        ]
        if candidates:
            results.extend(_one_route(route, candidates, item_list, day))
    return results
