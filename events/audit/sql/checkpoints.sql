-- name: insert_checkpoint
-- Write-once: a second checkpoint for the same day inserts nothing; the caller compares.
INSERT INTO chain_checkpoints (business_date, position, head_hash, head_recorded_at, key_id,
                               public_key, signature)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (business_date) DO NOTHING
RETURNING business_date;

-- name: checkpoints_between
SELECT business_date, position, head_hash, head_recorded_at, key_id, public_key, signature
FROM chain_checkpoints
WHERE business_date BETWEEN $1 AND $2
ORDER BY business_date
LIMIT $3;

-- name: latest_at_or_below
-- The newest checkpoint at or below a position: where a re-hash before signing can start.
SELECT business_date, position, head_hash, head_recorded_at, key_id, public_key, signature
FROM chain_checkpoints
WHERE position <= $1
ORDER BY position DESC, business_date DESC
LIMIT 1;
