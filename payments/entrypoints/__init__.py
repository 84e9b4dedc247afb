"""HTTP routes of the payments context."""
