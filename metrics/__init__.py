"""Online-payment-rate metrics per day, unit, agency and procedure."""
