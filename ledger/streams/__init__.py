"""The ledger's Faust agent."""
