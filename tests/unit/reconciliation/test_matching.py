"""Each matching stage matches what it should, with the stage and confidence recorded, and turns
what it cannot match into the right exception. A property test on generated days with known
truth shows that automatic matching finds every true pair and never a false one, under the
tolerances stated in tests/unit/reconciliation/recon_factories.py (rules 2026.1)."""

import random
import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.adapters.reference_data import load_rules_book
from reconciliation.domain.items import BankLine, ExpectedItem, ItemKind, item_facts
from reconciliation.domain.lumps import expected_net
from reconciliation.domain.matching import DayInputs, DayOutcome, match_day
from reconciliation.domain.rules import MatchingRules
from schemas.codes import payment_code, refund_code
from schemas.events.payments_v1 import FlaggedMoneyRefunded, PaymentMethod, RefundIssued
from schemas.events.reconciliation_v1 import Direction, ExceptionKind, Match, MatchStage
from schemas.money import PositiveMoney
from tests.unit.reconciliation.recon_factories import ACCOUNT, CALENDAR, RULES, item, line

DAY = date(2026, 11, 25)  # a Wednesday
VNPAY = ("gateway", "VNPAY")


def run(lines: list[BankLine], items: list[ExpectedItem], **extra: object) -> DayOutcome:
    inputs = DayInputs(
        bank_account=ACCOUNT,
        business_date=DAY,
        lines=lines,
        items=items,
        settled_references=extra.get("settled", {}),  # type: ignore[arg-type]
        matched_bank_references=frozenset(extra.get("bank_refs", ())),  # type: ignore[arg-type]
    )
    rules = extra.get("rules", RULES)
    assert isinstance(rules, MatchingRules)
    return match_day(inputs, rules, CALENDAR)


def kinds(outcome: DayOutcome) -> list[ExceptionKind]:
    return [exception.kind for exception in outcome.exceptions]


def test_exact_reference_in_end_to_end_id() -> None:
    paid = item(150_000, references=("ORD-1",))
    bank = line(150_000, end_to_end_id="ord-1")
    outcome = run([bank], [paid])
    [match] = outcome.matches
    assert (match.stage, match.confidence, match.item_ids, match.line_keys) == (
        MatchStage.EXACT_REFERENCE,
        100,
        [paid.item_id],
        [bank.key],
    )
    assert (match.gross_minor, match.fee_minor, match.net_minor) == (150_000, 0, 150_000)
    assert outcome.exceptions == []


def test_transfer_note_typed_by_hand() -> None:
    paid = item(200_000)
    code = payment_code(paid.item_id)
    bank = line(200_000, note=f"nop phi {code[:5].lower()} {code[5:]} Nguyễn Văn A")
    [match] = run([bank], [paid]).matches
    assert (match.stage, match.confidence) == (MatchStage.TRANSFER_NOTE, 90)


def test_reference_with_wrong_amount_is_an_amount_mismatch() -> None:
    paid = item(150_000, references=("ORD-2",))
    outcome = run([line(15_000, end_to_end_id="ORD-2")], [paid])
    assert outcome.matches == []
    assert kinds(outcome) == [ExceptionKind.AMOUNT_MISMATCH]
    assert outcome.exceptions[0].item_ids == [paid.item_id]


def test_split_credits_that_add_up_settle_one_payment() -> None:
    paid = item(300_000, references=("ORD-3",))
    first, second = line(100_000, note="ORD-3 lan 1"), line(200_000, note="ORD-3 lan 2")
    [match] = run([first, second], [paid]).matches
    assert match.stage is MatchStage.SPLIT_CREDITS
    assert match.line_keys == sorted([first.key, second.key])


def test_second_line_for_a_settled_payment_is_a_duplicate() -> None:
    paid = item(150_000, references=("ORD-4",))
    outcome = run([line(150_000, note="ORD-4"), line(150_000, note="ORD-4")], [paid])
    assert len(outcome.matches) == 1
    assert kinds(outcome) == [ExceptionKind.DUPLICATE_SETTLEMENT]


def test_payment_settled_by_an_earlier_run_is_a_duplicate() -> None:
    earlier = uuid.uuid4()
    outcome = run([line(150_000, note="ORD-5")], [], settled={"ORD-5": earlier})
    assert kinds(outcome) == [ExceptionKind.DUPLICATE_SETTLEMENT]


def test_bank_entry_booked_twice_is_a_duplicate() -> None:
    outcome = run([line(99_000, bank_reference="FT-SAME")], [], bank_refs={"FT-SAME"})
    assert kinds(outcome) == [ExceptionKind.DUPLICATE_SETTLEMENT]


def _gateway_day(count: int, at: datetime) -> list[ExpectedItem]:
    return [item(50_000 + 1_000 * n, clearing=VNPAY, at=at) for n in range(count)]


def test_gateway_lump_net_of_fees_settles_the_whole_capture_day() -> None:
    yesterday = _gateway_day(5, datetime(2026, 11, 24, 3, tzinfo=UTC))
    route = yesterday[0].route
    net = expected_net(route, yesterday)
    bank = line(net - 500, counterparty="CONG TY CP GIAI PHAP THANH TOAN VIET NAM (VNPAY)")
    [match] = run([bank], yesterday).matches
    assert (match.stage, match.confidence) == (MatchStage.GATEWAY_LUMP, 90)
    gross = sum(i.amount_minor for i in yesterday)
    assert (match.gross_minor, match.net_minor, match.fee_minor) == (
        gross,
        net - 500,
        gross - net + 500,
    )
    assert match.clearing == "gateway:VNPAY"


def test_gateway_lump_beyond_tolerance_is_an_exception() -> None:
    yesterday = _gateway_day(5, datetime(2026, 11, 24, 3, tzinfo=UTC))
    net = expected_net(yesterday[0].route, yesterday)
    outcome = run([line(net - 50_000, note="VNPAY TT NGAY 24/11/2026")], yesterday)
    assert outcome.matches == []
    assert kinds(outcome) == [ExceptionKind.FEE_BEYOND_TOLERANCE]
    assert len(outcome.exceptions[0].item_ids) == 5  # not also reported as not settled


def test_captures_of_today_are_not_late_yet() -> None:
    today = _gateway_day(3, datetime(2026, 11, 25, 3, tzinfo=UTC))  # due tomorrow (T+1)
    assert run([], today).exceptions == []


def test_item_past_its_due_day_is_not_settled_and_refund_not_settled() -> None:
    late = item(70_000, at=datetime(2026, 11, 20, 3, tzinfo=UTC))  # due Mon 23rd
    refund = item(
        40_000,
        kind=ItemKind.REFUND,
        clearing=("refunds", "SO-TP"),
        at=datetime(2026, 11, 20, 3, tzinfo=UTC),
    )
    assert sorted(kinds(run([], [late, refund]))) == [
        ExceptionKind.NOT_SETTLED,
        ExceptionKind.REFUND_NOT_SETTLED,
    ]


def test_amount_and_date_only_when_unambiguous() -> None:
    single = item(123_000)
    twins = [item(77_000), item(77_000)]
    outcome = run([line(123_000), line(77_000)], [single, *twins])
    [match] = outcome.matches
    assert (match.stage, match.confidence, match.item_ids) == (
        MatchStage.AMOUNT_DATE,
        70,
        [single.item_id],
    )
    assert ExceptionKind.UNMATCHED_BANK_LINE in kinds(outcome)


def test_refund_paid_out_is_a_debit_match() -> None:
    refund = item(
        45_000,
        kind=ItemKind.REFUND,
        clearing=("refunds", "SO-TP"),
        at=datetime(2026, 11, 23, 3, tzinfo=UTC),
    )
    [match] = run([line(45_000, direction=Direction.DEBIT)], [refund]).matches
    assert (match.stage, match.direction, match.clearing) == (
        MatchStage.REFUND_DEBIT,
        Direction.DEBIT,
        "refunds:SO-TP",
    )


def test_unknown_credit_is_an_unmatched_bank_line() -> None:
    outcome = run([line(500_000, note="chuyen tien")], [])
    assert kinds(outcome) == [ExceptionKind.UNMATCHED_BANK_LINE]


def test_results_are_deterministic() -> None:
    items = [item(10_000 * (n + 1), references=(f"R{n}",)) for n in range(30)]
    lines = [line(10_000 * (n + 1), note=f"R{n}") for n in range(30)]
    assert run(lines, items) == run(list(reversed(lines)), list(reversed(items)))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=60))
def test_generated_days_match_every_true_pair_and_no_false_one(seed: int, size: int) -> None:
    """Truth: each payment is paid by one line carrying its reference, its code in a messy note,
    or nothing but its (unique) amount; noise lines are unknown credits with distinct amounts."""
    rng = random.Random(seed)
    amounts = rng.sample(range(10_000, 5_000_000, 1_000), size * 2)
    items, lines, truth = [], [], {}
    for n in range(size):
        paid = item(
            amounts[n], references=(f"ORD{seed}X{n}",), at=datetime(2026, 11, 24, 2, tzinfo=UTC)
        )
        how = rng.choice(["reference", "note", "amount"])
        note = {
            "reference": f"thanh toan ORD{seed}X{n}",
            "note": " ".join(payment_code(paid.item_id).lower()),
            "amount": "chuyen khoan",
        }[how]
        bank = line(amounts[n], note=note)
        items.append(paid)
        lines.append(bank)
        truth[bank.key] = paid.item_id
    noise = [line(amounts[size + n], note="tien khac") for n in range(rng.randint(0, size))]
    outcome = run(lines + noise, items)
    found = {m.line_keys[0]: m.item_ids[0] for m in outcome.matches}
    assert found == truth
    assert sorted(kinds(outcome)) == [ExceptionKind.UNMATCHED_BANK_LINE] * len(noise)


def test_only_refunds_paid_through_the_bank_are_expected_there() -> None:
    def refund(method: PaymentMethod) -> RefundIssued:
        return RefundIssued(
            payment_id=uuid.uuid4(), refund_id=uuid.uuid4(),
            amount=PositiveMoney(amount_minor=9_000),
            reason="dossier withdrawn", approved_by="clerk-1", method=method, agency_code="SO-TP",
            unit_code="VP", procedure_code="TP-LLTP-01",
        )  # fmt: skip

    at = datetime(2026, 11, 24, 3, tzinfo=UTC)
    assert item_facts(refund(PaymentMethod.COUNTER_CASH), at) is None
    facts = item_facts(refund(PaymentMethod.ONLINE_GATEWAY), at)
    assert facts is not None and facts.direction is Direction.DEBIT
    flagged_money = FlaggedMoneyRefunded(
        payment_id=uuid.uuid4(), refund_id=uuid.uuid4(), evidence_id=uuid.uuid4(),
        order_ref="X1", gateway="VNPAY", amount=PositiveMoney(amount_minor=9_000),
        reason="paid twice", approved_by="clerk-1", agency_code="SO-TP", unit_code="VP",
        procedure_code="TP-LLTP-01",
    )  # fmt: skip
    back = item_facts(flagged_money, at)
    assert back is not None
    assert (back.kind, back.direction, back.clearing, back.amount_minor) == (
        ItemKind.REFUND, Direction.DEBIT, "refunds:SO-TP", 9_000,
    )  # fmt: skip
    assert back.references == (refund_code(flagged_money.refund_id),)


def test_a_run_s_match_records_encode_exactly_as_the_match_contract() -> None:
    """Runs build plain records for speed; orjson's encoding of one (what the results fingerprint
    hashes) must be the `Match` model's JSON with sorted keys."""
    paid = item(150_000, references=("ORD-9",))
    split = item(300_000, references=("ORD-10",))
    outcome = run(
        [line(150_000, end_to_end_id="ORD-9"), line(100_000, note="ORD-10"),
         line(200_000, note="ORD-10")],
        [paid, split],
    )  # fmt: skip
    assert len(outcome.matches) == 2
    for record in outcome.matches:
        contract = Match.model_validate(asdict(record)).model_dump(mode="json")
        assert orjson.dumps(record) == orjson.dumps(contract, option=orjson.OPT_SORT_KEYS)


def test_one_bank_entry_imported_twice_does_not_add_up_to_a_split_credit() -> None:
    """The same day imported in two formats: two open copies of one 150,000 VND credit naming a
    300,000 VND payment. The copy is a duplicate before anything matches, so the payment stays
    open and the one real credit is an amount mismatch, not half of a split."""
    paid = item(300_000, references=("ORD-7",))
    first = line(150_000, note="ORD-7 nop mot nua", bank_reference="FT26329000001")
    copy = line(150_000, note="ORD-7 nop mot nua", bank_reference="FT26329000001")
    outcome = run([first, copy], [paid])
    assert outcome.matches == []
    assert sorted(kinds(outcome)) == sorted(
        [ExceptionKind.DUPLICATE_SETTLEMENT, ExceptionKind.AMOUNT_MISMATCH]
    )


def test_a_note_naming_two_payments_matches_neither() -> None:
    one, other = item(150_000), item(150_000)
    codes = [payment_code(i.item_id) for i in (one, other)]
    note = f"nop phi {codes[0][:5]} {codes[0][5:]} va {codes[1][:5]} {codes[1][5:]}"
    outcome = run([line(150_000, note=note)], [one, other])
    assert outcome.matches == []  # a person decides which payment it was


def test_a_claim_on_a_payment_another_line_settled_is_a_duplicate() -> None:
    """L1 names A with another amount (a claim); L2 then settles A exactly. L1 cannot also pay
    A, and must not go on to match an unrelated payment by amount and date."""
    named, unrelated = item(150_000, references=("ORD-9",)), item(100_000)
    claim = line(100_000, note="ORD-9 lan 1")
    exact = line(150_000, note="ORD-9")
    outcome = run([claim, exact], [named, unrelated])
    assert [(m.line_keys, m.item_ids) for m in outcome.matches] == [([exact.key], [named.item_id])]
    duplicates = [e for e in outcome.exceptions if e.kind is ExceptionKind.DUPLICATE_SETTLEMENT]
    assert [e.line_keys for e in duplicates] == [[claim.key]]


TO_PERSON = RULES.model_copy(update={"settled_cited_the_other_way": "to_person"})


def test_a_debit_citing_its_settled_payment_goes_to_a_person_not_to_a_same_amount_refund() -> None:
    """Under rules 2026.2 on: the citation names a payment, not a refund, so the debit is not
    matched to whatever refund has its amount, nor called a second settlement; up to 2026.1 it
    was a duplicate, and a past day re-run with those rules still says so."""
    payment_id = uuid.uuid4()
    cited = payment_code(payment_id)  # settled by an earlier run
    unrelated_refund = item(
        45_000,
        kind=ItemKind.REFUND,
        clearing=("refunds", "SO-TP"),
        at=datetime(2026, 11, 23, 3, tzinfo=UTC),
    )
    paid_out = line(45_000, direction=Direction.DEBIT, note=f"HOAN TIEN {cited.lower()} le phi")
    settled = {cited: payment_id}
    outcome = run([paid_out], [unrelated_refund], settled=settled, rules=TO_PERSON)
    assert outcome.matches == []
    [unmatched] = [e for e in outcome.exceptions if e.line_keys]
    assert unmatched.kind is ExceptionKind.UNMATCHED_BANK_LINE
    assert str(payment_id) in unmatched.detail
    then = run([paid_out], [unrelated_refund], settled=settled)  # rules 2026.1
    assert kinds(then)[0] is ExceptionKind.DUPLICATE_SETTLEMENT and then.matches == []


def test_a_debit_naming_open_items_besides_a_settled_payment_is_not_a_mere_citation() -> None:
    """Under rules 2026.2: a debit that names two open refunds as well as a settled payment is
    left to the usual stages (it names several items: a person decides), not reported as a
    citation of the payment."""
    payment_id = uuid.uuid4()
    cited = payment_code(payment_id)
    refunds = [
        item(45_000, kind=ItemKind.REFUND, clearing=("refunds", "SO-TP"),
             at=datetime(2026, 11, 23, 3, tzinfo=UTC))
        for _ in range(2)
    ]  # fmt: skip
    codes = " ".join(payment_code(refund.item_id) for refund in refunds)
    paid_out = line(45_000, direction=Direction.DEBIT, note=f"HOAN TIEN {cited} {codes}")
    outcome = run([paid_out], refunds, settled={cited: payment_id}, rules=TO_PERSON)
    assert not any("citing settled item" in e.detail for e in outcome.exceptions)


def test_a_refund_paid_out_again_is_a_duplicate() -> None:
    refund_id = uuid.uuid4()
    code = refund_code(refund_id)  # the refund was paid out and settled by an earlier run
    settled = {code: refund_id}
    for rules in (RULES, TO_PERSON):
        again = run([line(45_000, direction=Direction.DEBIT, note=code)], [], settled=settled,
                    rules=rules)  # fmt: skip
        assert kinds(again) == [ExceptionKind.DUPLICATE_SETTLEMENT]
    returned = run([line(45_000, note=code)], [], settled=settled, rules=TO_PERSON)
    assert kinds(returned) == [ExceptionKind.UNMATCHED_BANK_LINE]  # money back: a person looks


def test_a_new_setting_leaves_the_fingerprint_past_runs_recorded() -> None:
    """Runs name their rules by fingerprint (verify-run looks the version up by it): adding a
    setting must not change an older version's, or every past run would stop verifying."""
    book = load_rules_book()
    assert book.in_force_on(date(2026, 12, 6)).fingerprint == "2026.1+faad986c843c"
    current = book.in_force_on(date(2026, 12, 7))
    assert (current.version, current.settled_cited_the_other_way) == ("2026.2", "to_person")
    assert book.by_fingerprint(current.fingerprint) == current
