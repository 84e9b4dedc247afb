"""Reference data shipped with the reconciliation context."""
