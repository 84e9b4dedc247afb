-- A small append (a request's events) as one statement: lock the chain head, number the events,
-- chain their hashes, insert them, move the head, record the commit and the request's receipt.
-- The head stays locked only while this runs in the server. Before, the client held the lock over
-- two more round trips (plan, write, COMMIT), and every other append waited behind a client that
-- was often busy with other requests: at 100 paid dossiers/s about 14 API sessions stood in the
-- head's lock queue on average (pg_stat_activity, 2026-12-04).
--
-- The client prepares each event's canonical document around the two fields the store assigns
-- (events.chain.content_prefix and document_suffix), so the function only splices in the
-- position and recorded_at and hashes:
--     entry_hash(n) = SHA-256(entry_hash(n - 1) || prefix || ,"position":N || ,"recorded_at":"T" || suffix)
-- exactly as events.chain.splice_document and chain_hash do in Python (the large-batch and the
-- careful paths still plan there); tests/integration/test_append_in_one_statement.py holds the
-- two to the same bytes. The streams' versions are checked here, under the lock, so the client
-- does not read them first: when one is not the version its request expects, the function
-- writes nothing and returns NULL. A repeated event id or receipt fails the statement on the
-- unique indexes, and nothing is written either. In both cases the client takes its careful
-- path, which tells a replay (answered with the original positions) from a real conflict.

-- The document fragment of an instant, as events.chain.recorded_at_fragment writes it.
CREATE FUNCTION events_recorded_at_fragment(instant timestamptz) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT convert_to(
        ',"recorded_at":"' || to_char(instant AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '"', 'UTF8')
$$;

CREATE FUNCTION events_append(
    event_ids uuid[], stream_ids text[], stream_versions int[], event_types text[],
    schema_versions int[], occurred_ats timestamptz[], correlation_ids uuid[],
    causation_ids uuid[], actors text[], payloads json[], prefixes bytea[], suffixes bytea[],
    receipt_scope text, receipt_key text, receipt_hash bytea, receipt_status int,
    receipt_response jsonb
) RETURNS bigint  -- the first position given, or NULL: a stream is not at the expected version
LANGUAGE plpgsql AS $$
DECLARE
    head_position bigint;
    head_hash bytea;
    head_recorded_at timestamptz;
    recorded timestamptz;
    fragment bytea;
    event_count int := cardinality(event_ids);
    positions bigint[] := '{}';
    hashes bytea[] := '{}';
BEGIN
    SELECT last_position, last_hash, last_recorded_at
    INTO head_position, head_hash, head_recorded_at
    FROM event_store_head WHERE singleton FOR UPDATE;
    -- Each stream appears once per append: its first new version says what the request expects.
    IF EXISTS (
        SELECT FROM (
            SELECT stream_id, min(stream_version) - 1 AS expected
            FROM unnest(stream_ids, stream_versions) AS given(stream_id, stream_version)
            GROUP BY stream_id
        ) AS requested
        WHERE coalesce((SELECT stream_version FROM events
                        WHERE events.stream_id = requested.stream_id
                        ORDER BY stream_version DESC LIMIT 1), 0) <> requested.expected
    ) THEN
        RETURN NULL;
    END IF;
    -- recorded_at never goes backwards along the chain, even if the clock does (greatest()
    -- skips the NULL of an empty store).
    recorded := greatest(clock_timestamp(), head_recorded_at);
    fragment := events_recorded_at_fragment(recorded);
    FOR i IN 1 .. event_count LOOP
        head_position := head_position + 1;
        head_hash := sha256(head_hash || prefixes[i]
                            || convert_to(',"position":' || head_position, 'UTF8')
                            || fragment || suffixes[i]);
        positions := positions || head_position;
        hashes := hashes || head_hash;
    END LOOP;
    INSERT INTO events (position, event_id, stream_id, stream_version, event_type, schema_version,
                        occurred_at, recorded_at, correlation_id, causation_id, actor, payload,
                        entry_hash)
    SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
           occurred_at, recorded, correlation_id, causation_id, actor, payload, entry_hash
    FROM unnest(positions, event_ids, stream_ids, stream_versions, event_types, schema_versions,
                occurred_ats, correlation_ids, causation_ids, actors, payloads, hashes)
         AS given(position, event_id, stream_id, stream_version, event_type, schema_version,
                  occurred_at, correlation_id, causation_id, actor, payload, entry_hash);
    UPDATE event_store_head
    SET last_position = head_position, last_hash = head_hash, last_recorded_at = recorded
    WHERE singleton;
    INSERT INTO event_store_commits (last_position, recorded_at, event_count)
    VALUES (head_position, recorded, event_count);
    IF receipt_scope IS NOT NULL THEN
        INSERT INTO command_receipts (scope, key, request_hash, status_code, response,
                                      last_position)
        VALUES (receipt_scope, receipt_key, receipt_hash, receipt_status, receipt_response,
                head_position);
    END IF;
    RETURN head_position - event_count + 1;
END
$$;
