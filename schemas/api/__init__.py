"""HTTP request and response models (pure contracts)."""
