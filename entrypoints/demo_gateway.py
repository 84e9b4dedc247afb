"""The demo's citizens who pay online through the sandbox gateway, over HTTP, end to end: file a
dossier (API), check out (API -> a signed gateway URL), pay on the sandbox's page, and the
sandbox's signed IPN back to the API, which records the capture or the failure and issues the
receipt. Most of the day is simulated straight into the store (faster); these go the whole way."""

import random
import uuid
from collections import Counter
from datetime import date

from rich.console import Console

from entrypoints.in_process import api_and_sandbox
from entrypoints.settings import Settings
from entrypoints.terminal import progress_bar
from events.clock_and_ids import SystemClock
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.sandbox.app import Outcome
from schemas.api.auth import Principal, Role

# Most succeed; some fail at the gateway; some never come back (the payment stays pending and
# expires after its window); some are retried by the gateway (a duplicate IPN, answered once).
OUTCOME_WEIGHTS: dict[Outcome, int] = {"success": 80, "failure": 8, "timeout": 7, "duplicate": 5}


def _fee_bearing_pairs(on: date) -> list[tuple[str, str]]:
    """(procedure, unit) pairs a citizen can file online with a fee to pay."""
    units = load_units()
    return [
        (procedure.code, unit.code)
        for procedure in load_fee_schedule().procedures_in_effect(on)
        if procedure.fee_base_minor > 0 or procedure.fee_per_unit_minor > 0
        for unit in units.units_at(procedure.administrative_level)[:3]
    ]


async def pay_online_through_sandbox(
    settings: Settings, console: Console, count: int, seed: int, on: date
) -> Counter[str]:
    rng = random.Random(seed)
    pairs = _fee_bearing_pairs(on)
    outcomes: Counter[str] = Counter()
    async with api_and_sandbox(settings, SystemClock()) as both:
        tokens = both.api_app.state.tokens
        with progress_bar("paying online via the sandbox", console) as progress:
            task = progress.add_task("payments", total=count)
            for _ in range(count):
                procedure, unit = rng.choice(pairs)
                citizen = Principal(subject=str(rng.randrange(10**11, 10**12)), role=Role.CITIZEN)
                headers = {"Authorization": f"Bearer {tokens.issue(citizen, SystemClock().now())}"}
                filed = await both.api.post(
                    "/dossiers", json={"procedure_code": procedure, "unit_code": unit},
                    headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                )  # fmt: skip
                filed.raise_for_status()
                payment_id = filed.json()["payment"]["payment_id"]
                checkout = await both.api.post(
                    f"/payments/{payment_id}/checkout", json={},
                    headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                )  # fmt: skip
                checkout.raise_for_status()
                outcome = rng.choices(list(OUTCOME_WEIGHTS), list(OUTCOME_WEIGHTS.values()))[0]
                await both.pay(checkout.json()["redirect_url"], outcome)
                outcomes[outcome] += 1
                progress.advance(task)
    return outcomes
