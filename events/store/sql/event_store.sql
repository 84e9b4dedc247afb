-- name: lock_head
-- Taken first in every append transaction; everything after it sees all earlier appends.
SELECT last_position, last_hash, last_recorded_at
FROM event_store_head
WHERE singleton
FOR UPDATE;

-- name: clock
SELECT clock_timestamp() AS now;

-- name: stream_versions
SELECT stream_id, max(stream_version) AS version
FROM events
WHERE stream_id = ANY($1::text[])
GROUP BY stream_id;

-- name: events_by_id
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE event_id = ANY($1::uuid[]);

-- name: insert_events
INSERT INTO events (position, event_id, stream_id, stream_version, event_type, schema_version,
                    occurred_at, recorded_at, correlation_id, causation_id, actor, payload,
                    entry_hash)
SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
       occurred_at, recorded_at, correlation_id, causation_id, actor, payload::jsonb, entry_hash
FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::int[],
            $7::timestamptz[], $8::timestamptz[], $9::uuid[], $10::uuid[], $11::text[],
            $12::text[], $13::bytea[])
    AS new_event(position, event_id, stream_id, stream_version, event_type, schema_version,
                 occurred_at, recorded_at, correlation_id, causation_id, actor, payload,
                 entry_hash);

-- name: advance_head
UPDATE event_store_head
SET last_position = $1, last_hash = $2, last_recorded_at = $3
WHERE singleton;

-- name: head
SELECT last_position, last_hash, last_recorded_at FROM event_store_head WHERE singleton;

-- name: read_stream
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE stream_id = $1 AND position <= $2
ORDER BY stream_version
LIMIT $3;

-- name: read_all
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload
FROM events
WHERE position > $1 AND position <= $2
ORDER BY position
LIMIT $3;

-- name: read_chain
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
       recorded_at, correlation_id, causation_id, actor, payload, entry_hash
FROM events
WHERE position > $1 AND position <= $2
ORDER BY position
LIMIT $3;

-- name: position_at
-- recorded_at never decreases with position (the appender takes the max), so the newest row
-- recorded by then is the last position of that moment.
SELECT coalesce((SELECT position FROM events WHERE recorded_at <= $1
                 ORDER BY recorded_at DESC, position DESC LIMIT 1), 0) AS position;
