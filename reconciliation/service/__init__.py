"""Reconciliation use cases: import, run, decide, close, report."""
