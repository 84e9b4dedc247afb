-- name: insert_file
INSERT INTO recon_files (file_id, content_sha256, file_name, format, mapping, line_count,
                         credit_total_minor, debit_total_minor, imported_by, imported_at, position)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: undo_match
-- The live match that holds the line (the MatchUndone event names it by its first line), and
-- its members' live rows, found by member through the live indexes (migration 0403).
WITH target AS (
    SELECT mt.match_key, mt.line_keys, mt.item_ids
    FROM recon_match_lines ml JOIN recon_matches mt USING (match_key)
    WHERE ml.line_key = $1 AND ml.undone_position IS NULL
), matches AS (
    UPDATE recon_matches SET undone_position = $2 WHERE match_key IN (SELECT match_key FROM target)
), lines AS (
    UPDATE recon_match_lines SET undone_position = $2
    WHERE line_key IN (SELECT unnest(line_keys) FROM target) AND undone_position IS NULL
      AND match_key IN (SELECT match_key FROM target)
)
UPDATE recon_match_items SET undone_position = $2
WHERE item_id IN (SELECT unnest(item_ids) FROM target) AND undone_position IS NULL
  AND match_key IN (SELECT match_key FROM target);

-- name: supersede_exceptions
UPDATE recon_exceptions SET superseded_position = $3
WHERE bank_account = $1 AND business_date = $2 AND superseded_position IS NULL;

-- name: insert_exception
INSERT INTO recon_exceptions (bank_account, business_date, key, kind, amount_minor, dated_on,
                              line_keys, item_ids, detail, run_id, position)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: insert_run
INSERT INTO recon_runs (run_id, bank_account, business_date, rules_version, as_of_position,
                        inputs_sha256, results_sha256, matched_line_count, exception_count,
                        run_by, completed_at, position)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: touch_day
INSERT INTO recon_days (bank_account, business_date, status, position)
VALUES ($1, $2, 'open', $3)
ON CONFLICT (bank_account, business_date) DO UPDATE SET position = EXCLUDED.position;

-- name: insert_decision
INSERT INTO recon_decisions (decision_id, bank_account, business_date, kind, amount_minor, match,
                             reason, proposed_by, needs_approval, status, position)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11);

-- name: decide
UPDATE recon_decisions
SET status = $2, decided_by = $3, decided_reason = $4, position = $5
WHERE decision_id = $1;

-- name: close_day
INSERT INTO recon_days (bank_account, business_date, status, closed_by, closed_at, position)
VALUES ($1, $2, 'closed', $3, $4, $5)
ON CONFLICT (bank_account, business_date) DO UPDATE
SET status = 'closed', closed_by = $3, closed_at = $4, position = $5;

-- name: reopen_day
UPDATE recon_days SET status = 'open', reopen_count = reopen_count + 1, position = $3
WHERE bank_account = $1 AND business_date = $2;

-- name: file_by_hash
SELECT file_id, line_count, position FROM recon_files WHERE content_sha256 = $1;

-- name: open_lines_of_day
-- Columns in BankLine's field order: read_model._line reads them by position.
-- The account's lines booked on the day that no live match (as of $3) holds.
SELECT l.line_key, l.bank_account, l.booking_date, l.amount_minor, l.direction,
       l.bank_reference, l.end_to_end_id, l.remittance_info, l.counterparty
FROM recon_lines l
WHERE l.bank_account = $1 AND l.booking_date = $2 AND l.position <= $3
  AND NOT EXISTS (  -- live now (each condition in its own EXISTS: see migration 0402)
      SELECT 1 FROM recon_match_lines m
      WHERE m.line_key = l.line_key AND m.undone_position IS NULL AND m.position <= $3)
  AND NOT EXISTS (  -- or undone only after $3
      SELECT 1 FROM recon_match_lines m
      WHERE m.line_key = l.line_key AND m.undone_position > $3 AND m.position <= $3)
ORDER BY l.line_key;

-- name: open_items_until
-- Columns in ItemFacts' field order: read_model._item reads them by position.
-- Items recorded by $2 and taken before $1 that no live match (as of $2) holds.
SELECT i.item_id, i.kind, i.amount_minor, i.clearing_kind, i.clearing_qualifier,
       i.occurred_at, i.reference_codes
FROM recon_items i
WHERE i.occurred_at < $1 AND i.position <= $2
  AND NOT EXISTS (  -- live now (each condition in its own EXISTS: see migration 0402)
      SELECT 1 FROM recon_match_items m
      WHERE m.item_id = i.item_id AND m.undone_position IS NULL AND m.position <= $2)
  AND NOT EXISTS (  -- or undone only after $2
      SELECT 1 FROM recon_match_items m
      WHERE m.item_id = i.item_id AND m.undone_position > $2 AND m.position <= $2);

-- name: settled_references
SELECT DISTINCT ON (r.reference) r.reference, r.item_id
FROM recon_item_references r
WHERE r.reference = ANY($1::text[])
  AND (EXISTS (SELECT 1 FROM recon_match_items m  -- see open_items_until
               WHERE m.item_id = r.item_id AND m.undone_position IS NULL AND m.position <= $2)
       OR EXISTS (SELECT 1 FROM recon_match_items m
                  WHERE m.item_id = r.item_id AND m.undone_position > $2 AND m.position <= $2))
ORDER BY r.reference, r.item_id;

-- name: matched_bank_references
-- The bank references of the day's open lines (open_lines_of_day) that a live match holds as of
-- $3 on another line of the account, of any day, the same day included (a statement imported
-- again in another format). Asked with no list of references, so that it runs while the open
-- lines and items are read.
SELECT DISTINCT l.bank_reference
FROM recon_lines l
WHERE l.bank_account = $1 AND l.booking_date = $2 AND l.position <= $3
  AND NOT EXISTS (  -- l is open: as in open_lines_of_day
      SELECT 1 FROM recon_match_lines m
      WHERE m.line_key = l.line_key AND m.undone_position IS NULL AND m.position <= $3)
  AND NOT EXISTS (
      SELECT 1 FROM recon_match_lines m
      WHERE m.line_key = l.line_key AND m.undone_position > $3 AND m.position <= $3)
  AND EXISTS (  -- and a line with its reference is matched
      SELECT 1 FROM recon_lines o
      WHERE o.bank_account = l.bank_account AND o.bank_reference = l.bank_reference
        AND (EXISTS (SELECT 1 FROM recon_match_lines m
                     WHERE m.line_key = o.line_key AND m.undone_position IS NULL
                       AND m.position <= $3)
             OR EXISTS (SELECT 1 FROM recon_match_lines m
                        WHERE m.line_key = o.line_key AND m.undone_position > $3
                          AND m.position <= $3)));

-- name: lines_by_key
-- Columns in BankLine's field order: read_model._line reads them by position.
SELECT l.line_key, l.bank_account, l.booking_date, l.amount_minor, l.direction,
       l.bank_reference, l.end_to_end_id, l.remittance_info, l.counterparty,
       EXISTS (SELECT 1 FROM recon_match_lines m
               WHERE m.line_key = l.line_key AND m.undone_position IS NULL) AS settled
FROM recon_lines l WHERE l.line_key = ANY($1::text[]);

-- name: items_by_id
-- Columns in ItemFacts' field order: read_model._item reads them by position.
SELECT i.item_id, i.kind, i.amount_minor, i.clearing_kind, i.clearing_qualifier,
       i.occurred_at, i.reference_codes,
       EXISTS (SELECT 1 FROM recon_match_items m
               WHERE m.item_id = i.item_id AND m.undone_position IS NULL) AS settled
FROM recon_items i WHERE i.item_id = ANY($1::uuid[]);

-- name: live_match_of_line
SELECT mt.match_key, mt.bank_account, mt.business_date, mt.stage, mt.confidence, mt.direction,
       mt.clearing, mt.gross_minor, mt.fee_minor, mt.net_minor,
       (SELECT array_agg(k ORDER BY k) FROM unnest(mt.line_keys) k) AS line_keys,
       (SELECT coalesce(array_agg(i ORDER BY i), '{}') FROM unnest(mt.item_ids) i) AS item_ids
FROM recon_match_lines ml JOIN recon_matches mt USING (match_key)
WHERE ml.line_key = $1 AND ml.undone_position IS NULL;

-- name: closed_days
-- Which of these (account, day) pairs are closed.
SELECT d.bank_account, d.business_date
FROM recon_days d
JOIN unnest($1::text[], $2::date[]) AS wanted(bank_account, business_date)
  USING (bank_account, business_date)
WHERE d.status = 'closed'
ORDER BY d.business_date, d.bank_account;

-- name: day_status
SELECT status, closed_by, closed_at, reopen_count FROM recon_days
WHERE bank_account = $1 AND business_date = $2;

-- name: day_line_counts
-- The day's lines: how many, how many a live match (or write-off) holds, and their amounts.
SELECT count(*) AS line_count,
       count(*) FILTER (WHERE m.line_key IS NOT NULL) AS settled_count,
       coalesce(sum(l.amount_minor) FILTER (WHERE m.line_key IS NOT NULL
                                           AND l.direction = 'credit'), 0)::bigint AS settled_minor
FROM recon_lines l
LEFT JOIN recon_match_lines m ON m.line_key = l.line_key AND m.undone_position IS NULL
WHERE l.bank_account = $1 AND l.booking_date = $2;

-- name: open_exceptions
-- The latest run's exceptions of the day that no later decision resolved.
SELECT e.key, e.kind, e.amount_minor, e.dated_on, e.line_keys, e.item_ids, e.detail, e.run_id
FROM recon_exceptions e
WHERE e.bank_account = $1 AND e.business_date = $2 AND e.superseded_position IS NULL
  AND NOT EXISTS (SELECT 1 FROM recon_match_lines m
                  WHERE m.line_key = ANY(e.line_keys) AND m.undone_position IS NULL)
  AND NOT EXISTS (SELECT 1 FROM recon_match_items m
                  WHERE m.item_id = ANY(e.item_ids) AND m.undone_position IS NULL)
ORDER BY e.kind, e.key;

-- name: matches_by_stage
SELECT stage, direction, count(*) AS match_count, sum(net_minor)::bigint AS net_minor,
       sum(gross_minor)::bigint AS gross_minor, sum(fee_minor)::bigint AS fee_minor
FROM recon_matches
WHERE bank_account = $1 AND business_date = $2 AND undone_position IS NULL
GROUP BY stage, direction ORDER BY stage, direction;

-- name: runs_of_day
SELECT run_id, rules_version, as_of_position, inputs_sha256, results_sha256,
       matched_line_count, exception_count, run_by, completed_at
FROM recon_runs WHERE bank_account = $1 AND business_date = $2 ORDER BY position;

-- name: run_position
SELECT position FROM recon_runs WHERE run_id = $1;

-- name: decisions_of_day
SELECT decision_id, kind, amount_minor, reason, proposed_by, needs_approval, status,
       decided_by, decided_reason
FROM recon_decisions WHERE bank_account = $1 AND business_date = $2 ORDER BY position;

-- name: items_taken_between
-- Columns in ItemFacts' field order: read_model._item reads them by position.
SELECT item_id, kind, amount_minor, clearing_kind, clearing_qualifier, occurred_at,
       reference_codes
FROM recon_items WHERE occurred_at >= $1 AND occurred_at < $2;

-- name: exception_queue
-- Every open exception of an account, oldest first: the latest run's list of each day, minus
-- what a later decision resolved.
SELECT e.business_date, e.key, e.kind, e.amount_minor, e.dated_on, e.line_keys, e.item_ids,
       e.detail
FROM recon_exceptions e
WHERE e.bank_account = $1 AND e.superseded_position IS NULL
  AND NOT EXISTS (SELECT 1 FROM recon_match_lines m
                  WHERE m.line_key = ANY(e.line_keys) AND m.undone_position IS NULL)
  AND NOT EXISTS (SELECT 1 FROM recon_match_items m
                  WHERE m.item_id = ANY(e.item_ids) AND m.undone_position IS NULL)
ORDER BY e.dated_on, e.business_date, e.key
LIMIT $2;
