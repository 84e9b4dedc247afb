-- name: checkpoint
-- The relay's last published position, its row created at 0 the first time: one round trip. The
-- SELECT does not see the row the INSERT adds (same snapshot), so at most one branch answers;
-- neither does when another session inserted the row concurrently (the caller asks again).
WITH created AS (
    INSERT INTO relay_checkpoints (relay_name, last_position) VALUES ($1, 0)
    ON CONFLICT (relay_name) DO NOTHING
    RETURNING last_position
)
SELECT last_position FROM created
UNION ALL
SELECT last_position FROM relay_checkpoints WHERE relay_name = $1;

-- name: save_checkpoint
-- Guarded by the old value: if another relay moved it, this one must not write over it.
UPDATE relay_checkpoints
SET last_position = $3, updated_at = now()
WHERE relay_name = $1 AND last_position = $2;

-- name: try_lead
-- Advisory locks are server-wide: the key names the schema too (as the settlement lock's does),
-- so the relays of two stores on one server (tests run one per schema) never wait for each other.
SELECT pg_try_advisory_lock(hashtext('outbox-relay:' || current_schema() || ':' || $1)) AS leading;

-- name: resign
SELECT pg_advisory_unlock(hashtext('outbox-relay:' || current_schema() || ':' || $1));
