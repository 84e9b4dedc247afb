"""Reconciliation: bank settlement import, matching, exceptions, day close and report."""
