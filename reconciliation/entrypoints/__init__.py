"""Reconciliation edges: the HTTP router and the CLI commands."""
