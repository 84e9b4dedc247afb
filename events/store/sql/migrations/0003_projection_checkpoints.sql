-- Catch-up projections that read the store directly record how far they got, in the same
-- transaction as their writes: a crash between the two is impossible, so nothing is applied twice.
CREATE TABLE projection_checkpoints (
    projection_name TEXT        PRIMARY KEY,
    last_position   BIGINT      NOT NULL CHECK (last_position >= 0),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
