-- Command receipts: the answer to a client's request, stored in the SAME transaction as the events
-- the request produced. A retried request (same scope and key) gets the stored answer back and
-- appends nothing; the same key with a different request is refused. Write-once, like events.
CREATE TABLE command_receipts (
    scope         TEXT        NOT NULL,  -- who and what, e.g. "citizen:0791…:POST /dossiers"
    key           TEXT        NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash  BYTEA       NOT NULL CHECK (length(request_hash) = 32),
    status_code   INTEGER     NOT NULL,
    response      JSONB       NOT NULL,
    last_position BIGINT      NOT NULL,  -- the store's head after the request's events (0: none)
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

CREATE TRIGGER command_receipts_append_only BEFORE UPDATE OR DELETE ON command_receipts
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
