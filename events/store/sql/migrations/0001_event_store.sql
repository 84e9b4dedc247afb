-- The event store: the system of record. Append-only, one global hash chain, gap-free positions.

CREATE TABLE events (
    position        BIGINT      PRIMARY KEY CHECK (position >= 1),
    event_id        UUID        NOT NULL UNIQUE,
    stream_id       TEXT        NOT NULL,
    stream_version  INTEGER     NOT NULL CHECK (stream_version >= 1),
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL CHECK (schema_version >= 1),
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    correlation_id  UUID        NOT NULL,
    causation_id    UUID,
    actor           TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    entry_hash      BYTEA       NOT NULL CHECK (length(entry_hash) = 32),
    -- A lost optimistic-concurrency race can never write a second event at the same version.
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);

-- Point-in-time reads ("as of 2026-11-24 17:00") map a time to the last position recorded by then.
CREATE INDEX events_recorded_at_idx ON events (recorded_at, position);

-- One row: the chain's head. Appenders lock it (SELECT … FOR UPDATE), which serialises position
-- allocation, so positions become visible strictly in order and a catch-up reader never skips one.
CREATE TABLE event_store_head (
    singleton        BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_position    BIGINT      NOT NULL,
    last_hash        BYTEA       NOT NULL CHECK (length(last_hash) = 32),
    last_recorded_at TIMESTAMPTZ
);
INSERT INTO event_store_head (singleton, last_position, last_hash, last_recorded_at)
VALUES (TRUE, 0, decode(repeat('00', 32), 'hex'), NULL);

-- Append-only by construction: the application cannot update, delete or truncate events.
-- (Someone with superuser rights still can; the hash chain is what proves they did.)
CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Outbox relays: each publishes the events table in position order and remembers how far it got.
CREATE TABLE relay_checkpoints (
    relay_name    TEXT        PRIMARY KEY,
    last_position BIGINT      NOT NULL CHECK (last_position >= 0),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
