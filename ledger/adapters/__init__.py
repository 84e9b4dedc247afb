"""PostgreSQL journal, balances and statements."""
