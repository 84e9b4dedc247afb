"""Tamper evidence an outsider can check: signed daily checkpoints of the hash chain's head and
self-contained audit packages that a third party verifies without our database (docs/audit.md)."""
