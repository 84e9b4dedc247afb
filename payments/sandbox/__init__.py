"""A sandbox VNPay gateway for demos and tests: `python -m payments.sandbox --port 59100`."""
