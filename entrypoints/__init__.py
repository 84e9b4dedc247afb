"""Composition root: settings, wiring of real adapters, the CLI and (later) the HTTP app."""
