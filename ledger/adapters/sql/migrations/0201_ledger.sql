-- The double-entry ledger. Its truth is here; the Faust agent that writes it is a rebuildable
-- pipe. An entry's primary key is the id of the event that caused it: the same event can
-- never post twice, whatever Kafka redelivers.

CREATE TABLE journal_entries (
    event_id      UUID        PRIMARY KEY,
    position      BIGINT      NOT NULL UNIQUE,  -- the event's global position in the store
    event_type    TEXT        NOT NULL,
    business_date DATE        NOT NULL,         -- Asia/Ho_Chi_Minh day of the money moment
    occurred_at   TIMESTAMPTZ NOT NULL,
    description   TEXT        NOT NULL,
    posted_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX journal_entries_date_idx ON journal_entries (business_date);

CREATE TABLE journal_postings (
    event_id       UUID   NOT NULL REFERENCES journal_entries (event_id),
    line           INTEGER NOT NULL CHECK (line >= 1),
    account_code   TEXT   NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor <> 0),  -- debit > 0, credit < 0
    currency       CHAR(3) NOT NULL DEFAULT 'VND',
    agency_code    TEXT,
    unit_code      TEXT,
    procedure_code TEXT,
    payment_id     UUID,
    PRIMARY KEY (event_id, line)
);
CREATE INDEX journal_postings_account_idx ON journal_postings (account_code, event_id);

-- Debits and credits per account and business day, kept in the same transaction as the entries:
-- balances and the trial balance read this, not millions of postings.
CREATE TABLE ledger_daily_balances (
    account_code  TEXT   NOT NULL,
    business_date DATE   NOT NULL,
    debit_minor   BIGINT NOT NULL DEFAULT 0 CHECK (debit_minor >= 0),
    credit_minor  BIGINT NOT NULL DEFAULT 0 CHECK (credit_minor >= 0),
    PRIMARY KEY (account_code, business_date)
);
