"""Proves how a replayed page is cut: by events, and by the rows they write, so that a run of
statement chunks (1,000 lines each) never fills one page with millions of lines."""

from entrypoints.replay import within_rows_max

CHUNK = "SettlementLinesRecorded"


def test_ordinary_events_fill_the_page() -> None:
    assert within_rows_max(["PaymentCaptured"] * 2500, rows_max=50_000) == 2500


def test_statement_chunks_stop_the_page_at_the_rows_bound() -> None:
    page = ["SettlementFileImported"] + [CHUNK] * 100 + ["PaymentCaptured"]
    assert within_rows_max(page, rows_max=50_000) == 1 + 49  # 1 + 49,000 rows; a 50th: 50,001


def test_a_page_keeps_at_least_one_event() -> None:
    assert within_rows_max([CHUNK, CHUNK], rows_max=10) == 1
    assert within_rows_max([], rows_max=10) == 0
