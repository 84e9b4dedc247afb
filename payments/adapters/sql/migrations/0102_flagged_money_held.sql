-- Money flagged callbacks moved that suspense holds for a refund (paid twice, a wrong amount), per
-- payment, so that a clerk or finance can list the payments waiting for such a refund
-- (GET /payments?holds_flagged_money=true). Rows written before this column read 0 until their
-- payment has a new event, or until the view is rebuilt from the events (`fees replay`).
ALTER TABLE view_payments ADD COLUMN flagged_held_minor BIGINT NOT NULL DEFAULT 0;
CREATE INDEX view_payments_flagged_idx ON view_payments (requested_at, payment_id)
    WHERE flagged_held_minor > 0;
