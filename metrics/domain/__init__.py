"""Metric rules: which event counts toward what. Pure."""
