"""Shared contracts and value types: pure pydantic v2 models, no I/O, no imports from our code."""
