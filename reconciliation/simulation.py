"""A seeded bank: the settlement lines a province's bank account would show for a day, with the
quirks real files have, and the truth behind them for tests and the demo.

Gateways credit one lump per capture day net of their fees; card and cash takings arrive one
line per payment carrying the payment code; refunds leave as debits. Then the quirks: one line
missing, one booked twice, one arriving a day late, one credit nobody can explain.
"""

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from reconciliation.domain.items import ExpectedItem
from reconciliation.domain.lumps import expected_net
from schemas.codes import payment_code, refund_code
from schemas.events.reconciliation_v1 import Direction, SettlementLine

GATEWAY_COUNTERPARTY = "CONG TY CP GIAI PHAP THANH TOAN VIET NAM (VNPAY)"
REFERENCE_BASES = 10_000  # distinct reference ranges, chosen by seed
REFERENCES_PER_BASE = 10_000  # lines a seeded bank books before its range runs into another


@dataclass(frozen=True)
class Quirks:
    missing: int = 1  # lines the bank never sends: the item stays not settled
    duplicate: int = 1  # lines booked twice (same bank reference)
    late: int = 1  # lines that arrive in the next day's file
    unknown: int = 1  # credits that name nothing we know (large: above the approval limit)


@dataclass
class BankDay:
    lines: list[SettlementLine]
    late_lines: list[SettlementLine]  # for the next banking day's file
    missing_item_ids: list[str] = field(default_factory=list)
    duplicate_references: list[str] = field(default_factory=list)
    unknown_references: list[str] = field(default_factory=list)


class SimulatedBank:
    def __init__(self, bank_account: str, seed: int) -> None:
        self._account = bank_account
        self._rng = random.Random(seed)
        self._count = 0
        # A bank never repeats a reference, so each seeded bank numbers its references from its
        # own base: two demos on one business day must not read as the same entries booked twice.
        self._reference_base = seed % REFERENCE_BASES * REFERENCES_PER_BASE

    def _line(
        self, day: date, amount: int, direction: Direction, **text: str | None
    ) -> SettlementLine:
        self._count += 1
        return SettlementLine(
            line_no=self._count,
            location=f"entry {self._count}",
            bank_account=self._account,
            booking_date=day,
            value_date=day,
            amount_minor=amount,
            direction=direction,
            # 16 characters, as MT940 allows
            bank_reference=f"FT{day:%y%m%d}{self._reference_base + self._count:08d}",
            **text,
        )

    def _per_item(self, day: date, item: ExpectedItem) -> SettlementLine:
        if item.facts.direction is Direction.DEBIT:
            note = f"HOAN TIEN {refund_code(item.item_id)}"
            return self._line(
                day,
                item.amount_minor,
                Direction.DEBIT,
                remittance_info=note,
                counterparty="NGUOI NOP PHI",
            )
        code = payment_code(item.item_id)
        typed = self._rng.choice([code, code.lower(), f"{code[:6]} {code[6:]}"])
        return self._line(
            day,
            item.amount_minor,
            Direction.CREDIT,
            remittance_info=f"Nộp phí hồ sơ {typed}",
            counterparty=f"{item.facts.clearing_kind.upper()} {item.facts.clearing_qualifier}",
        )

    def day(
        self, day: date, next_day: date, items: Sequence[ExpectedItem], quirks: Quirks = Quirks()
    ) -> BankDay:
        """The bank's lines for `day`: every item due that day on this account, then quirks.
        Late lines are booked on `next_day` and belong in its file."""
        due = sorted(
            (i for i in items if i.due_on == day and i.route.bank_account == self._account),
            key=lambda i: str(i.item_id),
        )
        lumps: dict[tuple[str, date], list[ExpectedItem]] = defaultdict(list)
        lines: list[SettlementLine] = []
        singles: list[tuple[ExpectedItem, SettlementLine]] = []
        for item in due:
            if item.route.lump:
                lumps[(item.facts.clearing, item.taken_on)].append(item)
            else:
                singles.append((item, self._per_item(day, item)))
        for (clearing, taken), group in sorted(lumps.items()):
            net = expected_net(group[0].route, group)
            lines.append(
                self._line(
                    day,
                    net,
                    Direction.CREDIT,
                    counterparty=GATEWAY_COUNTERPARTY,
                    remittance_info=f"{clearing.split(':')[1]} TT NGAY {taken:%d/%m/%Y}",
                )
            )
        self._rng.shuffle(singles)
        bank_day = BankDay(lines=lines, late_lines=[])
        credits = [(i, line) for i, line in singles if line.direction is Direction.CREDIT]
        for item, _ in credits[: quirks.missing]:
            bank_day.missing_item_ids.append(str(item.item_id))
        late = credits[quirks.missing : quirks.missing + quirks.late]
        bank_day.late_lines.extend(
            line.model_copy(update={"booking_date": next_day, "value_date": next_day})
            for _, line in late
        )
        skipped = {id(line) for _, line in credits[: quirks.missing + quirks.late]}
        lines.extend(line for _, line in singles if id(line) not in skipped)
        for original in [line for _, line in credits[quirks.missing + quirks.late :]][
            : quirks.duplicate
        ]:
            self._count += 1
            lines.append(
                original.model_copy(
                    update={"line_no": self._count, "location": f"entry {self._count}"}
                )
            )
            bank_day.duplicate_references.append(original.bank_reference)
        for _ in range(quirks.unknown):
            unknown = self._line(
                day,
                self._rng.randrange(5_100, 9_000) * 1000,
                Direction.CREDIT,
                remittance_info="CHUYEN TIEN",
                counterparty="KHONG RO",
            )
            lines.append(unknown)
            bank_day.unknown_references.append(unknown.bank_reference)
        return bank_day


def numbered(lines: Sequence[SettlementLine]) -> list[SettlementLine]:
    """The lines as one file holds them: numbered 1..n in order."""
    return [
        line.model_copy(update={"line_no": number, "location": f"entry {number}"})
        for number, line in enumerate(lines, start=1)
    ]
