"""Bank statement parsers: camt.053/054 XML, SWIFT MT940 and mapped CSV into SettlementLines."""

from reconciliation.adapters.statements.common import StatementError
from reconciliation.adapters.statements.csv_mapping import (
    CsvColumns,
    CsvMapping,
    load_csv_mappings,
)
from reconciliation.adapters.statements.statement import (
    PARSER_VERSION,
    ParsedStatement,
    parse_statement,
)

__all__ = [
    "PARSER_VERSION",
    "CsvColumns",
    "CsvMapping",
    "ParsedStatement",
    "StatementError",
    "load_csv_mappings",
    "parse_statement",
]
