"""Reads ISO 20022 bank-to-customer statements (camt.053) and notifications (camt.054).

Why it is built this way:
- lxml with every door shut: entities are not resolved, nothing is fetched from the network, and
  a DOCTYPE is refused outright. A bank statement never needs one, and a DOCTYPE is how entity
  expansion ("billion laughs") and external-entity (XXE) attacks get in.
- Streaming (iterparse): each `Ntry` is read, turned into a line and dropped, so a file of
  100,000 entries never holds its whole tree in memory.
- Namespace-agnostic: versions 001.02 to 001.08 differ in the namespace and in a few wrappers
  (`Sts` vs `Sts/Cd`, `Dbtr/Nm` vs `Dbtr/Pty/Nm`), not in the fields read here, so children are
  matched by local name and both wrapper forms are read. Only camt.053/054 namespaces pass.
- Only booked entries become lines: pending (`PDNG`) or information-only entries may still
  change, and the ledger posts only what the bank has booked. `CdtDbtInd` is the entry's real
  direction even for a reversal (`RvslInd`), so reversals need no special case.
"""

import io
import re
from datetime import date, datetime
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type information

from reconciliation.adapters.statements.common import (
    COUNTERPARTY_LENGTH_MAX,
    REMITTANCE_LENGTH_MAX,
    FieldError,
    StatementError,
    bank_account,
    bank_reference,
    check_currency,
    check_entry_count,
    dong_from_text,
    end_to_end_id,
    free_text,
    line_or_error,
)
from schemas.events.reconciliation_v1 import Direction, SettlementLine
from schemas.time import business_date

CAMT_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[34]\.001\.[0-9]{2}")
# The report element under Document and the element of each account's report inside it.
REPORT_UNITS = {"BkToCstmrStmt": "Stmt", "BkToCstmrDbtCdtNtfctn": "Ntfctn"}
BOOKED_STATUS = "BOOK"
DIRECTIONS = {"CRDT": Direction.CREDIT, "DBIT": Direction.DEBIT}
# The only elements iterparse reports to Python; everything else stays in C.
_WATCHED_TAGS = [
    f"{{*}}{name}"
    for name in ("Document", "BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn", "Stmt", "Ntfctn", "Acct")
] + ["{*}Ntry"]

Element = Any  # lxml ships no type information; elements are handled through this alias.


def _local(element: Element) -> str:
    return str(etree.QName(element).localname)


Children = dict[str, Element]


def _children(element: Element | None) -> Children:
    """An element's children by local name (the first of each name), read in one pass.

    One pass over the children is about three times cheaper than an lxml `find` per field,
    and local names make the reader namespace-agnostic for free.
    """
    found: Children = {}
    if element is not None:
        for child in element:
            if isinstance(child.tag, str):  # not an entity or other special node
                found.setdefault(child.tag.rpartition("}")[2], child)
    return found


def _all(element: Element | None, name: str) -> list[Element]:
    """Every child of that local name, in order (NtryDtls, TxDtls and Ustrd repeat)."""
    if element is None:
        return []
    return [
        child
        for child in element
        if isinstance(child.tag, str) and child.tag.rpartition("}")[2] == name
    ]


def _text(element: Element | None) -> str | None:
    text = element.text if element is not None else None
    return text.strip() or None if text else None


def _refuse_doctype(content: bytes) -> None:
    """Refuse a DOCTYPE before lxml sees it (UTF-16 files are caught after the prolog)."""
    position = content.find(b"<!DOCTYPE")
    if position >= 0:
        line = content.count(b"\n", 0, position) + 1
        raise StatementError(f"line {line}", "a DOCTYPE is not accepted in a bank statement")


def _booked(entry: Children, path: str) -> bool:
    status = entry.get("Sts")
    if status is None:
        raise StatementError(f"{path}/Sts", "no entry status")
    code = _text(status) or _text(_children(status).get("Cd"))
    return code == BOOKED_STATUS


def _amount(entry: Children, path: str) -> int:
    amount, where = entry.get("Amt"), f"{path}/Amt"
    text = _text(amount)
    if amount is None or text is None:
        raise StatementError(where, "no amount")
    try:
        check_currency(amount.get("Ccy"))
        return dong_from_text(text)
    except FieldError as exc:
        raise StatementError(where, str(exc)) from None


def _direction(entry: Children, path: str) -> Direction:
    indicator = _text(entry.get("CdtDbtInd"))
    if indicator not in DIRECTIONS:
        raise StatementError(f"{path}/CdtDbtInd", f"'{indicator or ''}' is not CRDT or DBIT")
    return DIRECTIONS[indicator]


def _date(entry: Children, name: str, path: str) -> date | None:
    """The date of BookgDt or ValDt: Dt as written, or DtTm's day in the business zone. A DtTm
    with an offset is an instant (a bank abroad may write it in UTC, where 18:30Z on the 24th
    is already the 25th in Hanoi); one without is local time, and its date is taken as written."""
    holder = entry.get(name)
    if holder is None:
        return None
    parts = _children(holder)
    day, moment = _text(parts.get("Dt")), _text(parts.get("DtTm"))
    try:
        if day is not None:
            return date.fromisoformat(day[:10] if day[10:11] in ("Z", "+", "-") else day)
        if moment is not None:
            instant = datetime.fromisoformat(moment)
            return business_date(instant) if instant.tzinfo is not None else instant.date()
    except ValueError:
        shown = day if day is not None else moment
        raise StatementError(f"{path}/{name}", f"'{shown}' is not a date") from None
    raise StatementError(f"{path}/{name}", "no Dt or DtTm")


def _party_name(transaction: Children, role: str) -> str | None:
    """Nm of Dbtr or Cdtr: directly inside it (001.02 to .07) or inside its Pty (.08 on)."""
    party = _children(_children(transaction.get("RltdPties")).get(role))
    return _text(party.get("Nm")) or _text(_children(party.get("Pty")).get("Nm"))


def _descriptions(
    entry: Element, kids: Children, direction: Direction, path: str
) -> tuple[str | None, str | None, str | None]:
    """End-to-end id, remittance text and counterparty of an entry.

    A batch entry (several TxDtls) has no single end-to-end id or counterparty; its remittance
    is every Ustrd in order. An entry without any Ustrd falls back to AddtlNtryInf.
    """
    transactions = [tx for details in _all(entry, "NtryDtls") for tx in _all(details, "TxDtls")]
    remitted = [
        text
        for tx in transactions
        for ustrd in _all(_children(tx).get("RmtInf"), "Ustrd")
        if (text := _text(ustrd))
    ]
    remittance = " ".join(remitted) if remitted else _text(kids.get("AddtlNtryInf"))
    if len(transactions) != 1:
        return None, free_text(remittance, REMITTANCE_LENGTH_MAX), None
    single = _children(transactions[0])
    try:
        end_to_end = end_to_end_id(_text(_children(single.get("Refs")).get("EndToEndId")))
    except FieldError as exc:
        raise StatementError(f"{path}/NtryDtls/TxDtls/Refs/EndToEndId", str(exc)) from None
    role = "Dbtr" if direction is Direction.CREDIT else "Cdtr"
    counterparty = free_text(_party_name(single, role), COUNTERPARTY_LENGTH_MAX)
    return end_to_end, free_text(remittance, REMITTANCE_LENGTH_MAX), counterparty


def _reference(entry: Element, kids: Children, path: str) -> str:
    """AcctSvcrRef, else NtryRef, else the first transaction's Refs/AcctSvcrRef."""
    candidates = [("AcctSvcrRef", kids.get("AcctSvcrRef")), ("NtryRef", kids.get("NtryRef"))]
    for details in _all(entry, "NtryDtls"):
        for tx in _all(details, "TxDtls"):
            found = _children(_children(tx).get("Refs")).get("AcctSvcrRef")
            candidates.append(("NtryDtls/TxDtls/Refs/AcctSvcrRef", found))
    for name, element in candidates:
        found = _text(element)
        if found is not None:
            try:
                return bank_reference(found)
            except FieldError as exc:
                raise StatementError(f"{path}/{name}", str(exc)) from None
    raise StatementError(path, "no bank reference (AcctSvcrRef, NtryRef or TxDtls/Refs)")


def entry_line(entry: Element, path: str, account: str, line_no: int) -> SettlementLine | None:
    """One booked `Ntry` as a SettlementLine; None for an entry that is not booked."""
    kids = _children(entry)
    if not _booked(kids, path):
        return None
    amount_minor = _amount(kids, path)
    direction = _direction(kids, path)
    booking_date = _date(kids, "BookgDt", path)
    if booking_date is None:
        raise StatementError(f"{path}/BookgDt", "no booking date")
    value_date = _date(kids, "ValDt", path) or booking_date
    reference = _reference(entry, kids, path)
    end_to_end, remittance, counterparty = _descriptions(entry, kids, direction, path)
    fields: dict[str, object] = {
        "line_no": line_no,
        "location": path,
        "bank_account": account,
        "booking_date": booking_date,
        "value_date": value_date,
        "amount_minor": amount_minor,
        "direction": direction,
        "bank_reference": reference,
        "end_to_end_id": end_to_end,
        "remittance_info": remittance,
        "counterparty": counterparty,
    }
    return line_or_error(fields, path)


def _check_document(element: Element) -> None:
    """Refuse a DOCTYPE (in any encoding), a root other than Document, or another message."""
    tree = element.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise StatementError("/", "a DOCTYPE is not accepted in a bank statement")
    root = tree.getroot()
    if _local(root) != "Document":
        raise StatementError(f"/{_local(root)}", "not an ISO 20022 Document")
    namespace = etree.QName(root).namespace or ""
    if not CAMT_NAMESPACE.fullmatch(namespace):
        raise StatementError("/Document", f"namespace '{namespace}' is not camt.053 or camt.054")


class _Reader:
    """Follows iterparse events: where we are (report, unit, entry) and the unit's account."""

    def __init__(self) -> None:
        self.lines: list[SettlementLine] = []
        self.opened = False
        self.report: Element | None = None
        self.report_path = ""
        self.unit: Element | None = None
        self.unit_path = ""
        self.unit_count = 0
        self.entry_count = 0
        self.account: str | None = None

    def start(self, element: Element) -> None:
        if not self.opened:
            _check_document(element)
            self.opened = True
        name, parent = _local(element), element.getparent()
        if name in REPORT_UNITS and parent is not None and parent.getparent() is None:
            self.report, self.report_path = element, f"/Document/{name}"
        elif self.report is not None and parent is self.report:
            if name != REPORT_UNITS[_local(self.report)]:
                return
            self.unit_count += 1
            self.unit, self.unit_path = element, f"{self.report_path}/{name}[{self.unit_count}]"
            self.entry_count, self.account = 0, None

    def end(self, element: Element) -> None:
        if self.unit is None or element.getparent() is not self.unit:
            return
        name = _local(element)
        if name == "Acct":
            self.account = self._account(element)
        elif name == "Ntry":
            self.entry_count += 1
            self._entry(element)

    def _account(self, element: Element) -> str:
        identification = _children(_children(element).get("Id"))
        other = _children(identification.get("Othr")).get("Id")
        raw = _text(identification.get("IBAN")) or _text(other)
        if raw is None:
            raise StatementError(f"{self.unit_path}/Acct/Id", "no account (IBAN or Othr/Id)")
        try:
            return bank_account(raw)
        except FieldError as exc:
            raise StatementError(f"{self.unit_path}/Acct/Id", str(exc)) from None

    def _entry(self, element: Element) -> None:
        path = f"{self.unit_path}/Ntry[{self.entry_count}]"
        if self.account is None:
            raise StatementError(f"{self.unit_path}/Acct", "no account before the entries")
        check_entry_count(len(self.lines) + 1, path)
        line = entry_line(element, path, self.account, len(self.lines) + 1)
        if line is not None:
            self.lines.append(line)
        # The entry is read: drop it and what came before it, so memory stays flat.
        element.clear(keep_tail=True)
        parent = element.getparent()
        while element.getprevious() is not None:
            del parent[0]


def parse_camt(content: bytes) -> list[SettlementLine]:
    """Every booked entry of a camt.053 or camt.054 file, in document order."""
    _refuse_doctype(content)
    reader = _Reader()
    events = etree.iterparse(
        io.BytesIO(content),
        events=("start", "end"),
        tag=_WATCHED_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for event, element in events:
            if event == "start":
                reader.start(element)
            else:
                reader.end(element)
    except etree.XMLSyntaxError as exc:
        line = max(exc.lineno or 1, 1)  # libxml2 says line 0 for an empty document
        raise StatementError(f"line {line}", f"not well-formed XML: {exc.msg}") from None
    if not reader.opened or reader.report is None:
        raise StatementError("/Document", "no BkToCstmrStmt or BkToCstmrDbtCdtNtfctn report")
    return reader.lines
