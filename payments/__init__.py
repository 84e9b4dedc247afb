"""Payments context: fee schedule, dossiers, the payment lifecycle, gateway callbacks, receipts."""
