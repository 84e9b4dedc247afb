"""Chart of accounts and posting rules. Pure: no I/O."""
