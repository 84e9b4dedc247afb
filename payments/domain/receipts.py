"""Electronic receipts with numbers that are unique and gap-free per agency and year.

The receipt book of an agency and year is a stream, `receiptbook-<agency>-<year>`; the number of a
receipt is the version its assignment takes in that stream. Stream versions have no gaps and two
writers cannot take the same one (optimistic concurrency), so neither can receipt numbers.
"""

from datetime import datetime

from payments.domain.payment import Payment
from schemas.envelope import EventPayload
from schemas.events.payments_v1 import ReceiptIssued, ReceiptNumberAssigned
from schemas.money import PositiveMoney
from schemas.time import business_date


def receipt_book_stream(agency_code: str, year: int) -> str:
    return f"receiptbook-{agency_code}-{year}"


def receipt_number(agency_code: str, year: int, number: int) -> str:
    return f"{agency_code}-{year}-{number:06d}"


def receipt_year(now: datetime) -> int:
    """Receipts are numbered per calendar year of the province's business day."""
    return business_date(now).year


def decide_receipt(
    payment: Payment, *, book_version: int, year: int, now: datetime
) -> tuple[list[EventPayload], list[EventPayload]]:
    """(receipt book events, payment events) giving the payment the next number of the book."""
    number = book_version + 1
    text = receipt_number(payment.agency_code, year, number)
    assigned = ReceiptNumberAssigned(
        agency_code=payment.agency_code,
        year=year,
        number=number,
        receipt_number=text,
        payment_id=payment.payment_id,
    )
    issued = ReceiptIssued(
        payment_id=payment.payment_id,
        receipt_number=text,
        agency_code=payment.agency_code,
        year=year,
        amount=PositiveMoney(amount_minor=payment.captured_minor),
        issued_at=now,
    )
    return [assigned], [issued]
