"""Event-sourcing machinery that knows nothing about any one context: store, chain, outbox relay."""
