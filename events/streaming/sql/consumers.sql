-- name: ensure_progress
-- (A data-modifying CTE's rows are invisible to its own statement, hence two statements.)
INSERT INTO consumer_progress (consumer_name, topic, partition, last_offset, last_position)
SELECT $1, t, p, -1, 0 FROM unnest($2::text[], $3::int[]) AS batch(t, p)
ON CONFLICT DO NOTHING;

-- name: lock_progress
-- Lock the batch's partitions in a fixed order (two workers never deadlock) and read them.
SELECT topic, partition, last_offset, last_position
FROM consumer_progress
WHERE consumer_name = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
ORDER BY topic, partition
FOR UPDATE;

-- name: save_progress
UPDATE consumer_progress AS progress
SET last_offset = batch.o, last_position = batch.pos, updated_at = clock_timestamp()
FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS batch(t, p, o, pos)
WHERE progress.consumer_name = $1 AND progress.topic = batch.t AND progress.partition = batch.p;

-- name: insert_dead_letters
INSERT INTO dead_letters (consumer_name, topic, partition, message_offset, message_key,
                          message_value, reason)
SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bytea[], $6::bytea[], $7::text[])
ON CONFLICT DO NOTHING;

-- name: progress_of
SELECT topic, partition, last_offset, last_position FROM consumer_progress
WHERE consumer_name = $1 ORDER BY topic, partition;

-- name: dead_letter_counts
SELECT consumer_name, count(*)::bigint AS dead_letters FROM dead_letters GROUP BY consumer_name;

-- name: applied_positions
-- The highest store position each consumer has applied (on any partition).
SELECT consumer_name, max(last_position)::bigint AS position
FROM consumer_progress GROUP BY consumer_name;

-- name: partition_progress
-- Each consumer's partitions: the store position last applied there, and for how long (seconds)
-- no batch has moved it.
SELECT consumer_name, topic, partition, last_position,
       greatest(0, extract(epoch FROM clock_timestamp() - updated_at))::float8 AS idle_s
FROM consumer_progress ORDER BY consumer_name, topic, partition;
