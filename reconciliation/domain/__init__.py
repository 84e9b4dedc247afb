"""Pure reconciliation rules: no I/O, no clock, no randomness."""
