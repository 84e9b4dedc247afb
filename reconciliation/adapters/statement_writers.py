"""Writing settlement lines as the bank files they come in: camt.053, MT940 and CSV.

The demo and the tests produce their banks' files with these, so that every import goes through
the real parsers; `tests/unit/reconciliation` checks that each format reads back to the same lines.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date
from xml.sax.saxutils import escape

from schemas.events.reconciliation_v1 import Direction, SettlementLine

GENERIC_CSV_HEADER = (
    "bank_account", "booking_date", "value_date", "amount", "direction", "bank_reference",
    "end_to_end_id", "remittance_info", "counterparty",
)  # fmt: skip
MT940_TEXT_WIDTH = 65  # :86: lines are at most 65 characters
MT940_DETAIL_LINES_MAX = 6


def generic_csv(lines: Sequence[SettlementLine]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GENERIC_CSV_HEADER)
    for line in lines:
        writer.writerow((
            line.bank_account, line.booking_date.isoformat(), line.value_date.isoformat(),
            line.amount_minor, line.direction.value,
            line.bank_reference, line.end_to_end_id or "", line.remittance_info or "",
            line.counterparty or "",
        ))  # fmt: skip
    return out.getvalue().encode("utf-8")


def _camt_entry(line: SettlementLine) -> str:
    credit = line.direction is Direction.CREDIT
    party = "Dbtr" if credit else "Cdtr"
    refs = (
        f"<Refs><EndToEndId>{escape(line.end_to_end_id)}</EndToEndId></Refs>"
        if (line.end_to_end_id)
        else ""
    )
    name = (
        f"<RltdPties><{party}><Nm>{escape(line.counterparty)}</Nm></{party}></RltdPties>"
        if line.counterparty
        else ""
    )
    remittance = (
        f"<RmtInf><Ustrd>{escape(line.remittance_info)}</Ustrd></RmtInf>"
        if line.remittance_info
        else ""
    )
    return (
        f'<Ntry><Amt Ccy="VND">{line.amount_minor}</Amt>'
        f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>{line.booking_date.isoformat()}</Dt></BookgDt>"
        f"<ValDt><Dt>{line.value_date.isoformat()}</Dt></ValDt>"
        f"<AcctSvcrRef>{escape(line.bank_reference)}</AcctSvcrRef>"
        f"<NtryDtls><TxDtls>{refs}{name}{remittance}</TxDtls></NtryDtls></Ntry>\n"
    )


def camt053(lines: Sequence[SettlementLine], statement_id: str, created_on: date) -> bytes:
    """One camt.053.001.02 statement per bank account in the lines."""
    accounts = sorted({line.bank_account for line in lines})
    statements = []
    for number, account in enumerate(accounts, start=1):
        entries = "".join(_camt_entry(line) for line in lines if line.bank_account == account)
        statements.append(
            f"<Stmt><Id>{escape(statement_id)}-{number}</Id>"
            f"<CreDtTm>{created_on.isoformat()}T17:00:00+07:00</CreDtTm>"
            f"<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>VND</Ccy></Acct>\n"
            f"{entries}</Stmt>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>{escape(statement_id)}</MsgId>"
        f"<CreDtTm>{created_on.isoformat()}T17:00:00+07:00</CreDtTm></GrpHdr>\n"
        f"{''.join(statements)}</BkToCstmrStmt></Document>\n"
    ).encode()


def _mt940_details(line: SettlementLine) -> list[str]:
    parts = []
    if line.end_to_end_id:
        parts.append(f"EREF+{line.end_to_end_id}")
    if line.remittance_info:
        parts.append(f"SVWZ+{line.remittance_info}")
    if line.counterparty:
        parts.append(f"NAME+{line.counterparty}")
    text = " ".join(parts).replace("\n", " ")
    chunks = [text[i : i + MT940_TEXT_WIDTH] for i in range(0, len(text), MT940_TEXT_WIDTH)]
    return chunks[:MT940_DETAIL_LINES_MAX]


def mt940(lines: Sequence[SettlementLine], statement_id: str, account: str) -> bytes:
    """One MT940 statement for one account; amounts in whole dong (`150000,`)."""
    own = [line for line in lines if line.bank_account == account]
    balance = sum(
        line.amount_minor if line.direction is Direction.CREDIT else -line.amount_minor
        for line in own
    )
    first = min(line.booking_date for line in own)
    last = max(line.booking_date for line in own)
    out = [f":20:{statement_id[:16]}", f":25:{account}", ":28C:1/1", f":60F:C{first:%y%m%d}VND0,"]
    for line in own:
        mark = "C" if line.direction is Direction.CREDIT else "D"
        customer = (line.end_to_end_id or "NONREF")[:16]
        out.append(
            f":61:{line.value_date:%y%m%d}{line.booking_date:%m%d}{mark}{line.amount_minor},"
            f"NTRF{customer}//{line.bank_reference[:16]}"
        )
        details = _mt940_details(line)
        if details:
            out.append(f":86:{details[0]}")
            out.extend(details[1:])
    sign = "C" if balance >= 0 else "D"
    out.append(f":62F:{sign}{last:%y%m%d}VND{abs(balance)},")
    return ("\r\n".join(out) + "\r\n-").encode("utf-8")
