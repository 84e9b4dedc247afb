"""The metrics' Faust agents."""
