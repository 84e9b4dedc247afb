"""Deterministic sample payment histories for the demo, the benchmark and integration tests.

Each sample dossier is two streams: `dossier-<id>` (DossierFiled) and `payment-<id>`
(PaymentRequested then, for most, PaymentCaptured). Same seed, same events, same ids.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from events.store.ports import NO_STREAM, AppendRequest
from schemas.envelope import NewEvent
from schemas.events.payments_v1 import (
    AdministrativeLevel,
    Channel,
    DossierFiled,
    PaymentCaptured,
    PaymentMethod,
    PaymentRequested,
)
from schemas.money import Money, PositiveMoney

SAMPLE_START_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 in Asia/Ho_Chi_Minh
ONLINE_FILING_SHARE = 0.736  # the province's reported share of dossiers filed online
CAPTURE_SHARE = 0.9
SAMPLE_SCHEDULE_VERSION = "sample"

# (procedure code, agency code, unit code, level, fee in VND)
SAMPLE_PROCEDURES = (
    ("TP-HT-01", "SO-TU-PHAP", "TINH", AdministrativeLevel.PROVINCE, 8_000),
    ("KH-DK-03", "SO-KE-HOACH", "TINH", AdministrativeLevel.PROVINCE, 100_000),
    ("XD-GP-02", "SO-XAY-DUNG", "TINH", AdministrativeLevel.PROVINCE, 150_000),
    ("TN-DD-07", "PHONG-TNMT", "HUYEN-BINH-XUYEN", AdministrativeLevel.DISTRICT, 50_000),
    ("HT-KS-01", "UBND-XA", "XA-TAM-HONG", AdministrativeLevel.COMMUNE, 5_000),
    ("CT-SY-02", "UBND-XA", "XA-DAO-DUC", AdministrativeLevel.COMMUNE, 2_000),
)


@dataclass(frozen=True)
class SampleIds:
    rng: random.Random

    def next(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def sample_dossier(ids: SampleIds, index: int) -> list[AppendRequest]:
    """The append requests (dossier stream, payment stream) for one sample dossier."""
    rng = ids.rng
    procedure, agency, unit, level, fee = SAMPLE_PROCEDURES[index % len(SAMPLE_PROCEDURES)]
    dossier_id, payment_id, correlation_id = ids.next(), ids.next(), ids.next()
    online = rng.random() < ONLINE_FILING_SHARE
    filed_at = SAMPLE_START_AT + timedelta(seconds=index * 3)
    citizen = f"citizen:{rng.randrange(10**11, 10**12)}"  # a 12-digit CCCD number
    envelope = {"correlation_id": correlation_id, "actor": citizen}

    citizen_id = citizen.removeprefix("citizen:")
    channel = Channel.ONLINE if online else Channel.COUNTER
    filed = NewEvent.from_payload(
        DossierFiled(
            dossier_id=dossier_id,
            citizen_id=citizen_id,
            procedure_code=procedure,
            agency_code=agency,
            unit_code=unit,
            administrative_level=level,
            channel=channel,
            fee=Money(amount_minor=fee),
            schedule_version=SAMPLE_SCHEDULE_VERSION,
            payment_id=payment_id,
        ),
        event_id=ids.next(),
        occurred_at=filed_at,
        **envelope,
    )
    method = PaymentMethod.ONLINE_GATEWAY if online else PaymentMethod.COUNTER_CASH
    requested = NewEvent.from_payload(
        PaymentRequested(
            payment_id=payment_id,
            dossier_id=dossier_id,
            citizen_id=citizen_id,
            procedure_code=procedure,
            agency_code=agency,
            unit_code=unit,
            administrative_level=level,
            channel=channel,
            amount=PositiveMoney(amount_minor=fee),
            schedule_version=SAMPLE_SCHEDULE_VERSION,
            expires_at=filed_at + timedelta(minutes=30),
        ),
        event_id=ids.next(),
        occurred_at=filed_at,
        causation_id=filed.event_id,
        **envelope,
    )
    payment_events = [requested]
    if rng.random() < CAPTURE_SHARE:
        captured_at = filed_at + timedelta(seconds=rng.randrange(20, 600))
        payment_events.append(
            NewEvent.from_payload(
                PaymentCaptured(
                    payment_id=payment_id,
                    dossier_id=dossier_id,
                    amount=PositiveMoney(amount_minor=fee),
                    method=method,
                    agency_code=agency,
                    unit_code=unit,
                    procedure_code=procedure,
                    captured_at=captured_at,
                    gateway="VNPAY" if online else None,
                    gateway_transaction_ref=f"{rng.randrange(10**7, 10**8)}" if online else None,
                ),
                event_id=ids.next(),
                occurred_at=captured_at,
                causation_id=requested.event_id,
                **envelope,
            )
        )
    return [
        AppendRequest(f"dossier-{dossier_id}", NO_STREAM, [filed]),
        AppendRequest(f"payment-{payment_id}", NO_STREAM, payment_events),
    ]


def sample_batches(
    seed: int, dossier_count: int, dossiers_per_batch: int
) -> Iterator[list[AppendRequest]]:
    """Append batches covering `dossier_count` sample dossiers."""
    ids = SampleIds(random.Random(seed))
    batch: list[AppendRequest] = []
    for index in range(dossier_count):
        batch.extend(sample_dossier(ids, index))
        if len(batch) >= 2 * dossiers_per_batch:
            yield batch
            batch = []
    if batch:
        yield batch
