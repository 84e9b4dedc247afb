-- The reconciliation read model: a projection of payment and reconciliation events, rebuilt from
-- the event store on replay. Every row carries the global position of the event that wrote it,
-- so a day can be looked at as it stood at any position.

CREATE TABLE recon_items (
    item_id             uuid PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('payment', 'unapplied_receipt', 'refund')),
    amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
    clearing_kind       text NOT NULL,
    clearing_qualifier  text NOT NULL,
    occurred_at         timestamptz NOT NULL,
    reference_codes     text[] NOT NULL,  -- upper-cased order refs, gateway refs, codes
    position            bigint NOT NULL
);
CREATE INDEX recon_items_occurred ON recon_items (occurred_at);

CREATE TABLE recon_item_references (
    reference  text NOT NULL,
    item_id    uuid NOT NULL,
    PRIMARY KEY (reference, item_id)
);

CREATE TABLE recon_files (
    file_id             uuid PRIMARY KEY,
    content_sha256      text NOT NULL UNIQUE,
    file_name           text NOT NULL,
    format              text NOT NULL,
    mapping             text,
    line_count          integer NOT NULL,
    credit_total_minor  bigint NOT NULL,
    debit_total_minor   bigint NOT NULL,
    imported_by         text NOT NULL,
    imported_at         timestamptz NOT NULL,
    position            bigint NOT NULL
);

CREATE TABLE recon_lines (
    line_key         text PRIMARY KEY,
    file_id          uuid NOT NULL,
    line_no          integer NOT NULL,
    location         text NOT NULL,
    bank_account     text NOT NULL,
    booking_date     date NOT NULL,
    value_date       date NOT NULL,
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    direction        text NOT NULL CHECK (direction IN ('credit', 'debit')),
    bank_reference   text NOT NULL,
    end_to_end_id    text,
    remittance_info  text,
    counterparty     text,
    position         bigint NOT NULL
);
CREATE INDEX recon_lines_day ON recon_lines (bank_account, booking_date);
CREATE INDEX recon_lines_bank_reference ON recon_lines (bank_account, bank_reference);

CREATE TABLE recon_matches (
    match_key       text PRIMARY KEY,  -- "<position of the event>.<index in it>"
    bank_account    text NOT NULL,
    business_date   date NOT NULL,
    stage           text NOT NULL,
    confidence      integer NOT NULL,
    direction       text NOT NULL,
    clearing        text NOT NULL,
    gross_minor     bigint NOT NULL,
    fee_minor       bigint NOT NULL,
    net_minor       bigint NOT NULL,
    run_id          uuid,
    decision_id     uuid,
    position        bigint NOT NULL,
    undone_position bigint
);
CREATE INDEX recon_matches_day ON recon_matches (bank_account, business_date);

CREATE TABLE recon_match_lines (
    line_key        text NOT NULL,
    match_key       text NOT NULL,
    position        bigint NOT NULL,
    undone_position bigint
);
-- A line is in at most one live match: the projection fails loudly rather than double-settle.
CREATE UNIQUE INDEX recon_match_lines_live ON recon_match_lines (line_key)
    WHERE undone_position IS NULL;
CREATE INDEX recon_match_lines_match ON recon_match_lines (match_key);
CREATE INDEX recon_match_lines_line ON recon_match_lines (line_key);

CREATE TABLE recon_match_items (
    item_id         uuid NOT NULL,
    match_key       text NOT NULL,
    position        bigint NOT NULL,
    undone_position bigint
);
CREATE UNIQUE INDEX recon_match_items_live ON recon_match_items (item_id)
    WHERE undone_position IS NULL;
CREATE INDEX recon_match_items_match ON recon_match_items (match_key);
CREATE INDEX recon_match_items_item ON recon_match_items (item_id);

CREATE TABLE recon_exceptions (
    bank_account         text NOT NULL,
    business_date        date NOT NULL,
    key                  text NOT NULL,
    kind                 text NOT NULL,
    amount_minor         bigint NOT NULL,
    dated_on             date NOT NULL,
    line_keys            text[] NOT NULL,
    item_ids             uuid[] NOT NULL,
    detail               text NOT NULL,
    run_id               uuid NOT NULL,
    position             bigint NOT NULL,
    superseded_position  bigint,
    PRIMARY KEY (bank_account, business_date, key, position)
);

CREATE TABLE recon_runs (
    run_id              uuid PRIMARY KEY,
    bank_account        text NOT NULL,
    business_date       date NOT NULL,
    rules_version       text NOT NULL,
    as_of_position      bigint NOT NULL,
    inputs_sha256       text NOT NULL,
    results_sha256      text NOT NULL,
    matched_line_count  integer NOT NULL,
    exception_count     integer NOT NULL,
    run_by              text NOT NULL,
    completed_at        timestamptz NOT NULL,
    position            bigint NOT NULL
);
CREATE INDEX recon_runs_day ON recon_runs (bank_account, business_date);

CREATE TABLE recon_decisions (
    decision_id     uuid PRIMARY KEY,
    bank_account    text NOT NULL,
    business_date   date NOT NULL,
    kind            text NOT NULL,
    amount_minor    bigint NOT NULL,
    match           jsonb NOT NULL,
    reason          text NOT NULL,
    proposed_by     text NOT NULL,
    needs_approval  boolean NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'applied', 'rejected')),
    decided_by      text,
    decided_reason  text,
    position        bigint NOT NULL
);

CREATE TABLE recon_days (
    bank_account   text NOT NULL,
    business_date  date NOT NULL,
    status         text NOT NULL CHECK (status IN ('open', 'closed')),
    closed_by      text,
    closed_at      timestamptz,
    reopen_count   integer NOT NULL DEFAULT 0,
    position       bigint NOT NULL,
    PRIMARY KEY (bank_account, business_date)
);
