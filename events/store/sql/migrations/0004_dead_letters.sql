-- Stream consumers (the Faust agents) keep their progress and their dead letters here, in the same
-- transaction as their own writes.

-- Per partition, the highest store position applied. The relay sends a partition's events in
-- position order, and after a crash it re-sends a range it had sent before: anything at or below
-- this position is a duplicate and is skipped. Rows are locked while a batch is applied, so two
-- workers that briefly share a partition during a rebalance cannot both apply it.
CREATE TABLE consumer_progress (
    consumer_name TEXT    NOT NULL,
    topic         TEXT    NOT NULL,
    partition     INTEGER NOT NULL,
    last_offset   BIGINT  NOT NULL,
    last_position BIGINT  NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer_name, topic, partition)
);

-- Messages a consumer could not process: kept with the reason, counted in the metrics, never
-- silently dropped. The same message also goes to the topic's `.dlq` topic for other tools.
CREATE TABLE dead_letters (
    consumer_name TEXT        NOT NULL,
    topic         TEXT        NOT NULL,
    partition     INTEGER     NOT NULL,
    message_offset BIGINT     NOT NULL,
    message_key   BYTEA,
    message_value BYTEA,
    reason        TEXT        NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer_name, topic, partition, message_offset)
);
