-- name: upsert_payment_view
INSERT INTO view_payments (payment_id, dossier_id, citizen_id, unit_code, agency_code,
                           procedure_code, status, scheduled_minor, due_minor, captured_minor,
                           refunded_minor, method, expires_at, requested_at, receipt_number,
                           attempts, version, last_position, flagged_held_minor)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (payment_id) DO UPDATE SET
    status = EXCLUDED.status, due_minor = EXCLUDED.due_minor,
    captured_minor = EXCLUDED.captured_minor, refunded_minor = EXCLUDED.refunded_minor,
    flagged_held_minor = EXCLUDED.flagged_held_minor,
    method = EXCLUDED.method, receipt_number = EXCLUDED.receipt_number,
    attempts = EXCLUDED.attempts, version = EXCLUDED.version,
    last_position = EXCLUDED.last_position
WHERE view_payments.version < EXCLUDED.version;

-- name: list_payments
-- Keyset pagination on (requested_at, payment_id); every filter is optional (NULL = any).
SELECT payment_id, requested_at
FROM view_payments
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR unit_code = $2)
  AND ($3::text IS NULL OR procedure_code = $3)
  AND ($4::text IS NULL OR citizen_id = $4)
  AND ($5::timestamptz IS NULL OR requested_at >= $5)
  AND ($6::timestamptz IS NULL OR requested_at < $6)
  AND ($7::timestamptz IS NULL OR (requested_at, payment_id) > ($7, $8::uuid))
  AND ($10::boolean IS NULL OR (flagged_held_minor > 0) = $10)
ORDER BY requested_at, payment_id
LIMIT $9;

-- name: overdue_payment_ids
SELECT payment_id FROM view_payments
WHERE status IN ('requested', 'pending', 'failed') AND expires_at <= $1
ORDER BY expires_at
LIMIT $2;

-- name: payment_by_receipt
SELECT payment_id FROM view_payments WHERE receipt_number = $1;

-- name: insert_evidence
INSERT INTO gateway_callback_evidence (evidence_id, received_at, gateway, channel, order_ref,
                                       raw_request, headers, secret_version, verification_result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);
