-- name: lock_head
-- Taken first in every append transaction; everything after it sees all earlier appends.
-- clock_timestamp() may be read before the lock is granted: the planner takes the later of it
-- and the head's last time, so recorded_at still never decreases along the chain.
SELECT last_position, last_hash, last_recorded_at, clock_timestamp() AS now
FROM event_store_head
WHERE singleton
FOR UPDATE;

-- name: stream_versions
-- One backward index probe per stream (a GROUP BY would read every event of every stream).
SELECT requested.stream_id,
       (SELECT stream_version FROM events
        WHERE events.stream_id = requested.stream_id
        ORDER BY stream_version DESC LIMIT 1) AS version
FROM unnest($1::text[]) AS requested(stream_id);

-- name: events_by_id
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE event_id = ANY($1::uuid[]);

-- name: advance_head
WITH commit_row AS (
    INSERT INTO event_store_commits (last_position, recorded_at, event_count)
    VALUES ($1, $3, $4)
)
UPDATE event_store_head
SET last_position = $1, last_hash = $2, last_recorded_at = $3
WHERE singleton;

-- name: head
SELECT last_position, last_hash, last_recorded_at FROM event_store_head WHERE singleton;

-- name: rows_past_head
-- Rows stored beyond the head's position, in one snapshot (an append moves both at once): none
-- in an intact store; a row INSERTed around the appender would be read and relayed.
SELECT count(*) AS count FROM events
WHERE position > (SELECT last_position FROM event_store_head WHERE singleton);

-- name: read_stream
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE stream_id = $1 AND position <= $2
ORDER BY stream_version
LIMIT $3;

-- name: read_streams
-- Several streams at once (a projection's batch), each in version order.
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE stream_id = ANY($1::text[]) AND position <= $2
ORDER BY stream_id, stream_version
LIMIT $3;

-- name: read_all
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE position > $1 AND position <= $2
ORDER BY position
LIMIT $3;

-- name: read_all_of_types
-- A page of the given types only (each replayed projection reads just what it uses): the
-- position index is walked in order and the other rows are passed over inside PostgreSQL.
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE position > $1 AND position <= $2 AND event_type = ANY($4::text[])
ORDER BY position
LIMIT $3;

-- name: read_stored
-- Rows exactly as stored, for the relay and chain verification: the payload as its stored bytes
-- (payload_json), never decoded, so what is hashed and sent is what is kept.
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor,
       convert_to(payload::text, 'UTF8') AS payload_json, entry_hash
FROM events
WHERE position > $1 AND position <= $2
ORDER BY position
LIMIT $3;

-- name: position_at
SELECT coalesce((SELECT last_position FROM event_store_commits WHERE recorded_at <= $1
                 ORDER BY recorded_at DESC, last_position DESC LIMIT 1), 0) AS position;

-- name: insert_receipt
INSERT INTO command_receipts (scope, key, request_hash, status_code, response, last_position)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: find_receipt
SELECT scope, key, request_hash, status_code, response, last_position
FROM command_receipts
WHERE scope = $1 AND key = $2;

-- name: stream_version
-- One backward probe of the (stream_id, stream_version) index, however long the stream is.
SELECT coalesce((SELECT stream_version FROM events WHERE stream_id = $1
                 ORDER BY stream_version DESC LIMIT 1), 0) AS version;

-- name: append_small
-- A request-sized append in one statement (migration 0007 says why and how).
SELECT events_append($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[],
                     $6::timestamptz[], $7::uuid[], $8::uuid[], $9::text[], $10::json[],
                     $11::bytea[], $12::bytea[], $13, $14, $15, $16, $17);
