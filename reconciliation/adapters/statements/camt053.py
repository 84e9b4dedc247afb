"""Reads ISO 20022 bank-to-customer statements (camt.053) and notifications (camt.054).

Why it is built this way:
- lxml with every door shut: entities are not resolved, nothing is fetched from the network, and
  a DOCTYPE is refused outright. A bank statement never needs one, and a DOCTYPE is how entity
  expansion ("billion laughs") and external-entity (XXE) attacks get in.
- Streaming (iterparse): each `Ntry` is read, turned into a line and dropped, so a file of
  100,000 entries never holds its whole tree in memory.
- Namespace-agnostic: versions 001.02 to 001.08 differ in the namespace and in a few wrappers
  (`Sts` vs `Sts/Cd`, `Dbtr/Nm` vs `Dbtr/Pty/Nm`), not in the fields read here, so paths are
  built in the document's own namespace and both wrapper forms are read.
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

CAMT_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[34]\.001\.[0-9]{2}")
# The report element under Document and the element of each account's report inside it.
REPORT_UNITS = {"BkToCstmrStmt": "Stmt", "BkToCstmrDbtCdtNtfctn": "Ntfctn"}
BOOKED_STATUS = "BOOK"
DIRECTIONS = {"CRDT": Direction.CREDIT, "DBIT": Direction.DEBIT}
_WATCHED_TAGS = ["{*}Document", *(f"{{*}}{name}" for name in REPORT_UNITS), "{*}Stmt"]
_WATCHED_TAGS += ["{*}Ntfctn", "{*}Acct", "{*}Ntry"]

Element = Any  # lxml ships no type information; elements are handled through this alias.


def _local(element: Element) -> str:
    return str(etree.QName(element).localname)


class _Paths:
    """Element paths in the document's namespace, each built once per file and then reused.

    `find` is called about fifteen times per entry, so building the namespaced path string each
    time cost more than the look-up itself.
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.built: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        built = self.built.get(path)
        if built is None:
            steps = path.split("/")
            built = (
                "/".join(f"{{{self.namespace}}}{step}" for step in steps)
                if self.namespace
                else path
            )
            self.built[path] = built
        return built


def _text(element: Element, path: str) -> str | None:
    found = element.findtext(path)
    return found.strip() if found is not None and found.strip() else None


def _refuse_doctype(content: bytes) -> None:
    """Refuse a DOCTYPE before lxml sees it (UTF-16 files are caught after the prolog)."""
    position = content.find(b"<!DOCTYPE")
    if position >= 0:
        line = content.count(b"\n", 0, position) + 1
        raise StatementError(f"line {line}", "a DOCTYPE is not accepted in a bank statement")


def _booked(entry: Element, q: _Paths, path: str) -> bool:
    status = entry.find(q("Sts"))
    if status is None:
        raise StatementError(f"{path}/Sts", "no entry status")
    code = (status.text or "").strip() or (status.findtext(q("Cd")) or "").strip()
    return code == BOOKED_STATUS


def _amount(entry: Element, q: _Paths, path: str) -> int:
    amount = entry.find(q("Amt"))
    where = f"{path}/Amt"
    if amount is None or not (amount.text or "").strip():
        raise StatementError(where, "no amount")
    try:
        check_currency(amount.get("Ccy"))
        return dong_from_text(amount.text.strip())
    except FieldError as exc:
        raise StatementError(where, str(exc)) from None


def _direction(entry: Element, q: _Paths, path: str) -> Direction:
    indicator = _text(entry, q("CdtDbtInd"))
    if indicator not in DIRECTIONS:
        raise StatementError(f"{path}/CdtDbtInd", f"'{indicator or ''}' is not CRDT or DBIT")
    return DIRECTIONS[indicator]


def _date(entry: Element, q: _Paths, name: str, path: str) -> date | None:
    """The date of BookgDt or ValDt, from Dt or from the date part of DtTm as written."""
    holder = entry.find(q(name))
    if holder is None:
        return None
    day, moment = _text(holder, q("Dt")), _text(holder, q("DtTm"))
    try:
        if day is not None:
            return date.fromisoformat(day[:10] if day[10:11] in ("Z", "+", "-") else day)
        if moment is not None:
            return datetime.fromisoformat(moment).date()
    except ValueError:
        shown = day if day is not None else moment
        raise StatementError(f"{path}/{name}", f"'{shown}' is not a date") from None
    raise StatementError(f"{path}/{name}", "no Dt or DtTm")


def _party_name(details: Element, q: _Paths, role: str) -> str | None:
    name = _text(details, q(f"RltdPties/{role}/Nm"))
    return name if name is not None else _text(details, q(f"RltdPties/{role}/Pty/Nm"))


def _descriptions(
    entry: Element, q: _Paths, direction: Direction, path: str
) -> tuple[str | None, str | None, str | None]:
    """End-to-end id, remittance text and counterparty of an entry.

    A batch entry (several TxDtls) has no single end-to-end id or counterparty; its remittance
    is every Ustrd in order. An entry without any Ustrd falls back to AddtlNtryInf.
    """
    transactions = entry.findall(q("NtryDtls/TxDtls"))
    single = transactions[0] if len(transactions) == 1 else None
    ustrd = entry.iterfind(q("NtryDtls/TxDtls/RmtInf/Ustrd"))
    remitted = [element.text.strip() for element in ustrd if (element.text or "").strip()]
    remittance = " ".join(remitted) if remitted else _text(entry, q("AddtlNtryInf"))
    if single is None:
        return None, free_text(remittance, REMITTANCE_LENGTH_MAX), None
    role = "Dbtr" if direction is Direction.CREDIT else "Cdtr"
    try:
        end_to_end = end_to_end_id(_text(single, q("Refs/EndToEndId")))
    except FieldError as exc:
        raise StatementError(f"{path}/NtryDtls/TxDtls/Refs/EndToEndId", str(exc)) from None
    counterparty = free_text(_party_name(single, q, role), COUNTERPARTY_LENGTH_MAX)
    return end_to_end, free_text(remittance, REMITTANCE_LENGTH_MAX), counterparty


def _reference(entry: Element, q: _Paths, path: str) -> str:
    for candidate in ("AcctSvcrRef", "NtryRef", "NtryDtls/TxDtls/Refs/AcctSvcrRef"):
        found = _text(entry, q(candidate))
        if found is not None:
            try:
                return bank_reference(found)
            except FieldError as exc:
                raise StatementError(f"{path}/{candidate}", str(exc)) from None
    raise StatementError(path, "no bank reference (AcctSvcrRef, NtryRef or TxDtls/Refs)")


def entry_line(
    entry: Element, q: _Paths, path: str, account: str, line_no: int
) -> SettlementLine | None:
    """One booked `Ntry` as a SettlementLine; None for an entry that is not booked."""
    if not _booked(entry, q, path):
        return None
    amount_minor = _amount(entry, q, path)
    direction = _direction(entry, q, path)
    booking_date = _date(entry, q, "BookgDt", path)
    if booking_date is None:
        raise StatementError(f"{path}/BookgDt", "no booking date")
    value_date = _date(entry, q, "ValDt", path) or booking_date
    reference = _reference(entry, q, path)
    end_to_end, remittance, counterparty = _descriptions(entry, q, direction, path)
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


def _document_paths(element: Element) -> _Paths:
    """Check the document (no DOCTYPE, a camt Document root) and build paths in its namespace."""
    tree = element.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise StatementError("/", "a DOCTYPE is not accepted in a bank statement")
    root = tree.getroot()
    if _local(root) != "Document":
        raise StatementError(f"/{_local(root)}", "not an ISO 20022 Document")
    namespace = etree.QName(root).namespace or ""
    if not CAMT_NAMESPACE.fullmatch(namespace):
        raise StatementError("/Document", f"namespace '{namespace}' is not camt.053 or camt.054")
    return _Paths(namespace)


class _Reader:
    """Follows iterparse events: where we are (report, unit, entry) and the unit's account."""

    def __init__(self) -> None:
        self.lines: list[SettlementLine] = []
        self.q: _Paths | None = None
        self.report: Element | None = None
        self.report_path = ""
        self.unit: Element | None = None
        self.unit_path = ""
        self.unit_count = 0
        self.entry_count = 0
        self.account: str | None = None

    def start(self, element: Element) -> None:
        if self.q is None:
            self.q = _document_paths(element)
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
        if self.q is None or self.unit is None or element.getparent() is not self.unit:
            return
        name = _local(element)
        if name == "Acct":
            self.account = self._account(element, self.q)
        elif name == "Ntry":
            self.entry_count += 1
            self._entry(element, self.q)

    def _account(self, element: Element, q: _Paths) -> str:
        raw = _text(element, q("Id/IBAN")) or _text(element, q("Id/Othr/Id"))
        if raw is None:
            raise StatementError(f"{self.unit_path}/Acct/Id", "no account (IBAN or Othr/Id)")
        try:
            return bank_account(raw)
        except FieldError as exc:
            raise StatementError(f"{self.unit_path}/Acct/Id", str(exc)) from None

    def _entry(self, element: Element, q: _Paths) -> None:
        path = f"{self.unit_path}/Ntry[{self.entry_count}]"
        if self.account is None:
            raise StatementError(f"{self.unit_path}/Acct", "no account before the entries")
        check_entry_count(len(self.lines) + 1, path)
        line = entry_line(element, q, path, self.account, len(self.lines) + 1)
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
    if reader.q is None or reader.report is None:
        raise StatementError("/Document", "no BkToCstmrStmt or BkToCstmrDbtCdtNtfctn report")
    return reader.lines
