"""PostgreSQL history of the metrics and the queries over it."""
