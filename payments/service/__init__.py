"""Use cases of the payments context: load, decide, append (with retries), answer."""
