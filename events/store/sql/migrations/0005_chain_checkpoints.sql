-- Signed daily checkpoints of the hash chain's head (docs/audit.md). One row per business day in
-- Asia/Ho_Chi_Minh: at the end of that day the chain's head was `position` with `head_hash`,
-- recorded at `head_recorded_at` (NULL only for position 0, an empty chain). The Ed25519
-- signature covers the message built from these fields; the key that made it never lives here.
-- Write-once like the events: a stored checkpoint is never updated or deleted.
CREATE TABLE chain_checkpoints (
    business_date    DATE        PRIMARY KEY,
    position         BIGINT      NOT NULL CHECK (position >= 0),
    head_hash        BYTEA       NOT NULL CHECK (length(head_hash) = 32),
    head_recorded_at TIMESTAMPTZ,
    key_id           TEXT        NOT NULL,
    public_key       BYTEA       NOT NULL CHECK (length(public_key) = 32),
    signature        BYTEA       NOT NULL CHECK (length(signature) = 64),
    signed_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT chain_checkpoints_recorded_at_iff_events
        CHECK ((position = 0) = (head_recorded_at IS NULL)),
    -- The key id is derived from the public key, never chosen: first 16 hex of its SHA-256.
    CONSTRAINT chain_checkpoints_key_id_derived
        CHECK (key_id = left(encode(sha256(public_key), 'hex'), 16))
);
CREATE INDEX chain_checkpoints_position_idx ON chain_checkpoints (position);

CREATE TRIGGER chain_checkpoints_append_only BEFORE UPDATE OR DELETE ON chain_checkpoints
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER chain_checkpoints_no_truncate BEFORE TRUNCATE ON chain_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
