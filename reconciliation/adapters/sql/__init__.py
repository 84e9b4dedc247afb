"""SQL of the reconciliation read model."""
