"""Payment gateway adapters behind one gateway-neutral port (ports.py); VNPay is the first."""
