"""The one Faust application and what every agent shares (decoding, dead letters)."""
