"""HTTP routes of the ledger (finance and auditor)."""
