"""Banking days honour weekends and Vietnamese holidays; transfer notes give up their codes even
when typed with spaces, lower case, diacritics or look-alike letters, and nothing else does."""

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.domain.errors import RulesError
from reconciliation.domain.items import TakenDays, taken_on
from reconciliation.domain.references import (
    CONFIDENCE_FOLDED,
    CONFIDENCE_REPAIRED,
    CONFIDENCE_VERBATIM,
    codes_in_note,
    fold,
)
from schemas.codes import canonical_code, dossier_code, payment_code
from schemas.time import BUSINESS_ZONE
from tests.unit.reconciliation.recon_factories import CALENDAR, RULES


def test_friday_plus_one_banking_day_is_monday() -> None:
    assert CALENDAR.add_banking_days(date(2026, 11, 27), 1) == date(2026, 11, 30)


def test_a_holiday_on_a_saturday_gives_the_monday_off() -> None:
    """1 May 2027 is a Saturday: Monday 3 May is the compensatory day off (after Friday 30 April,
    itself a holiday), so Thursday 29 April plus one banking day is Tuesday 4 May."""
    assert CALENDAR.add_banking_days(date(2027, 4, 29), 1) == date(2027, 5, 4)


def test_saturday_capture_with_lag_zero_is_due_monday() -> None:
    assert CALENDAR.add_banking_days(date(2026, 11, 28), 0) == date(2026, 11, 30)


def test_tet_holidays_are_not_banking_days() -> None:
    # Friday 13 Feb 2026 + 1 banking day: the Tết week (16–20 Feb) and two weekends are skipped.
    assert CALENDAR.add_banking_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    assert CALENDAR.banking_days_between(date(2026, 2, 13), date(2026, 2, 23)) == 1


def test_national_day_is_skipped() -> None:
    assert CALENDAR.add_banking_days(date(2026, 8, 31), 1) == date(2026, 9, 3)


def test_a_year_without_holiday_data_is_refused() -> None:
    with pytest.raises(RulesError, match="outside the holiday calendar"):
        CALENDAR.is_banking_day(date(2031, 3, 3))


def test_cut_off_moves_late_captures_to_the_next_business_day() -> None:
    cash = RULES.route_for("cash", "ANY-UNIT")
    assert cash is not None  # cut-off 16:30 local = 09:30 UTC
    assert taken_on(datetime(2026, 11, 24, 9, 29, tzinfo=UTC), cash) == date(2026, 11, 24)
    assert taken_on(datetime(2026, 11, 24, 9, 30, tzinfo=UTC), cash) == date(2026, 11, 25)
    # 18:00 UTC on the 24th is 01:00 on the 25th in Hà Nội: the 25th, well before its cut-off.
    assert taken_on(datetime(2026, 11, 24, 18, 0, tzinfo=UTC), cash) == date(2026, 11, 25)


def test_fold_removes_diacritics_case_and_separators() -> None:
    assert fold("Nộp phí hồ sơ - Đăng ký") == "NOPPHIHOSODANGKY"


def test_code_typed_verbatim_has_full_confidence() -> None:
    code = payment_code(uuid.uuid4())
    hits = codes_in_note(f"NOP PHI {code} NGUYEN VAN A")
    assert [(hit.code, hit.confidence) for hit in hits] == [(code, CONFIDENCE_VERBATIM)]


def test_code_typed_with_spaces_lower_case_and_diacritics_is_found() -> None:
    code = payment_code(uuid.uuid4())
    typed = f"nộp phí {code[:2].lower()} {code[2:6].lower()} {code[6:]}"
    assert [(hit.code, hit.confidence) for hit in codes_in_note(typed)] == [
        (code, CONFIDENCE_FOLDED)
    ]


def test_look_alike_letters_are_repaired_with_lower_confidence() -> None:
    code = next(c for c in (payment_code(uuid.uuid4()) for _ in range(500)) if "0" in c[2:])
    typed = code[:2] + code[2:].replace("0", "O")
    assert [(hit.code, hit.confidence) for hit in codes_in_note(typed)] == [
        (code, CONFIDENCE_REPAIRED)
    ]


def test_dossier_codes_are_found_too() -> None:
    code = dossier_code(uuid.uuid4())
    assert codes_in_note(f"ho so {code}")[0].code == code


@given(
    st.uuids(), st.integers(min_value=2, max_value=12), st.sampled_from("ABCDEFGHJKMNPQRSTVWXYZ")
)
def test_one_wrong_character_never_passes_the_check(
    identifier: uuid.UUID, at: int, char: str
) -> None:
    code = payment_code(identifier)
    wrong = code[:at] + char + code[at + 1 :]
    if wrong != code:
        assert canonical_code(wrong) is None


@given(st.text(max_size=80))
def test_free_text_without_codes_yields_nothing_wrong(text: str) -> None:
    for hit in codes_in_note(text):
        assert canonical_code(hit.code) == hit.code  # anything found checks out


@given(st.uuids())
def test_a_code_spells_its_ids_top_bits_in_crockford_base32_and_checks_out(
    identifier: uuid.UUID,
) -> None:
    code = payment_code(identifier)
    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    top_bits = sum(crockford.index(char) << (5 * (9 - at)) for at, char in enumerate(code[2:12]))
    assert (code[:2], len(code), top_bits) == ("TT", 13, identifier.int >> 78)
    assert canonical_code(code) == code  # the table-driven check character is Luhn mod 32's


# The rules' cut-offs, the ends of a day, and times inside the hours the zone's clocks went
# back over (1945, 1955, 1975) or skipped (1942, 1945, 1947, 1959).
CUT_OFFS = [
    time(0, 0), time(0, 30), time(9, 30), time(16, 30), time(22, 30), time(23, 30),
    time(23, 59, 59, 999999),
]  # fmt: skip


@given(
    instants=st.lists(
        st.datetimes(datetime(1940, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
        max_size=40,
    ),
    cut_off=st.sampled_from(CUT_OFFS),
    in_time_order=st.booleans(),
)
def test_taken_days_agree_with_taken_on(
    instants: list[datetime], cut_off: time, in_time_order: bool
) -> None:
    """The run's cached taken days (one window per cut-off) are `taken_on`'s, instant by
    instant, in any order."""
    route = RULES.route_for("cash", "ANY-UNIT")
    assert route is not None
    route = route.model_copy(update={"cut_off_local": cut_off})
    taken_days = TakenDays()
    for at in sorted(instants) if in_time_order else instants:
        assert taken_days(at, route) == taken_on(at, route)


def test_taken_days_agree_with_taken_on_around_the_zones_clock_changes() -> None:
    """Asia/Ho_Chi_Minh changed its clocks seven times between 1940 and 1980, forward and back.
    Every 5 minutes from a day before each change to a day after, at each cut-off, the cached
    windows give `taken_on`'s day (one straddling a change back an hour or two would not)."""
    route = RULES.route_for("cash", "ANY-UNIT")
    assert route is not None
    changes, at = [], datetime(1940, 1, 1, tzinfo=UTC)
    while at < datetime(1980, 1, 1, tzinfo=UTC):
        if (at + timedelta(hours=1)).astimezone(BUSINESS_ZONE).utcoffset() != at.astimezone(
            BUSINESS_ZONE
        ).utcoffset():
            changes.append(at)
        at += timedelta(hours=1)
    assert len(changes) == 7
    for cut_off in CUT_OFFS:
        routed = route.model_copy(update={"cut_off_local": cut_off})
        for change in changes:
            taken_days, at = TakenDays(), change - timedelta(hours=26)
            while at < change + timedelta(hours=26):
                assert taken_days(at, routed) == taken_on(at, routed), (at, cut_off)
                at += timedelta(minutes=5)
