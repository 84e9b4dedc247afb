-- Online-payment-rate metrics: the history (PostgreSQL) behind the live Faust tables.

CREATE TABLE metric_daily (
    business_date      DATE   NOT NULL,
    unit_code          TEXT   NOT NULL,
    agency_code        TEXT   NOT NULL,
    procedure_code     TEXT   NOT NULL,
    filed_online       BIGINT NOT NULL DEFAULT 0,
    filed_counter      BIGINT NOT NULL DEFAULT 0,
    fee_bearing_filed  BIGINT NOT NULL DEFAULT 0,
    checkout_attempts  BIGINT NOT NULL DEFAULT 0,
    paid_online        BIGINT NOT NULL DEFAULT 0,
    paid_counter       BIGINT NOT NULL DEFAULT 0,
    paid_online_minor  BIGINT NOT NULL DEFAULT 0,
    paid_counter_minor BIGINT NOT NULL DEFAULT 0,
    refunds            BIGINT NOT NULL DEFAULT 0,
    refunds_minor      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (business_date, unit_code, agency_code, procedure_code)
);

-- The administrative level of each unit, learnt from the dossiers filed there.
CREATE TABLE metric_units (
    unit_code            TEXT PRIMARY KEY,
    administrative_level TEXT NOT NULL CHECK (administrative_level IN ('province', 'district', 'commune'))
);

-- Filing-to-payment times: opened by PaymentRequested, closed by the capture (or acceptance).
CREATE TABLE metric_payment_times (
    payment_id     UUID PRIMARY KEY,
    requested_at   TIMESTAMPTZ,
    captured_at    TIMESTAMPTZ,
    business_date  DATE,  -- of the capture
    unit_code      TEXT,
    agency_code    TEXT,
    procedure_code TEXT
);
CREATE INDEX metric_payment_times_date_idx ON metric_payment_times (business_date);
