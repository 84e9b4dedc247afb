"""The double-entry ledger: posting rules (pure), journal storage, balances, its Faust agent."""
