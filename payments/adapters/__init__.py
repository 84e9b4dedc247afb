"""Adapters of the payments context: gateway clients, repositories, projections."""
