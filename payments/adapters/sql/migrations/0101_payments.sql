-- Payments context tables. Events stay the truth; these are evidence and rebuildable read models.

-- Raw evidence of every gateway callback whose signature verified, written once and never
-- changed: the exact bytes, the headers, and which secret version verified it, so that the
-- signature can be re-checked years later after the secret has rotated.
CREATE TABLE gateway_callback_evidence (
    evidence_id         UUID        PRIMARY KEY,
    received_at         TIMESTAMPTZ NOT NULL,
    gateway             TEXT        NOT NULL,
    channel             TEXT        NOT NULL CHECK (channel IN ('ipn', 'status_query')),
    order_ref           TEXT        NOT NULL,
    raw_request         BYTEA       NOT NULL,  -- query string or body, byte for byte
    headers             JSONB       NOT NULL,
    secret_version      TEXT        NOT NULL,
    verification_result TEXT        NOT NULL
);
CREATE INDEX gateway_callback_evidence_order_idx ON gateway_callback_evidence (order_ref);
CREATE TRIGGER gateway_callback_evidence_write_once BEFORE UPDATE OR DELETE
    ON gateway_callback_evidence FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

-- Read model for listing and searching payments (GET /payments) and for the expiry sweeper.
-- A single payment is always read from its stream; this view may lag by a few milliseconds.
CREATE TABLE view_payments (
    payment_id      UUID        PRIMARY KEY,
    dossier_id      UUID        NOT NULL,
    citizen_id      TEXT        NOT NULL,
    unit_code       TEXT        NOT NULL,
    agency_code     TEXT        NOT NULL,
    procedure_code  TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    scheduled_minor BIGINT      NOT NULL,
    due_minor       BIGINT      NOT NULL,
    captured_minor  BIGINT      NOT NULL,
    refunded_minor  BIGINT      NOT NULL,
    method          TEXT,
    expires_at      TIMESTAMPTZ NOT NULL,
    requested_at    TIMESTAMPTZ NOT NULL,
    receipt_number  TEXT UNIQUE,
    attempts        INTEGER     NOT NULL,
    version         INTEGER     NOT NULL,
    last_position   BIGINT      NOT NULL
);
CREATE INDEX view_payments_listing_idx ON view_payments (requested_at, payment_id);
CREATE INDEX view_payments_citizen_idx ON view_payments (citizen_id, requested_at);
CREATE INDEX view_payments_open_idx ON view_payments (expires_at)
    WHERE status IN ('requested', 'pending', 'failed');
