-- name: post_entries
-- A whole batch in one statement. Entries already posted (a redelivered event) are skipped by
-- ON CONFLICT, and only the postings of newly inserted entries go in and move the balances.
WITH new_entries AS (
    INSERT INTO journal_entries (event_id, position, event_type, business_date, occurred_at,
                                 description)
    SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::date[], $5::timestamptz[],
                         $6::text[])
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, business_date
), new_postings AS (
    INSERT INTO journal_postings (event_id, line, account_code, amount_minor, agency_code,
                                  unit_code, procedure_code, payment_id)
    SELECT p.* FROM unnest($7::uuid[], $8::int[], $9::text[], $10::bigint[], $11::text[],
                           $12::text[], $13::text[], $14::uuid[])
        AS p(event_id, line, account_code, amount_minor, agency_code, unit_code,
             procedure_code, payment_id)
    WHERE p.event_id IN (SELECT event_id FROM new_entries)
    RETURNING event_id, account_code, amount_minor
)
INSERT INTO ledger_daily_balances (account_code, business_date, debit_minor, credit_minor)
SELECT np.account_code, ne.business_date,
       sum(greatest(np.amount_minor, 0)), sum(greatest(-np.amount_minor, 0))
FROM new_postings np JOIN new_entries ne USING (event_id)
GROUP BY np.account_code, ne.business_date
ORDER BY np.account_code, ne.business_date  -- one lock order for every worker: no deadlock
ON CONFLICT (account_code, business_date) DO UPDATE
SET debit_minor = ledger_daily_balances.debit_minor + EXCLUDED.debit_minor,
    credit_minor = ledger_daily_balances.credit_minor + EXCLUDED.credit_minor;

-- name: trial_balance
SELECT account_code, sum(debit_minor)::bigint AS debit_minor, sum(credit_minor)::bigint AS credit_minor
FROM ledger_daily_balances
WHERE ($1::date IS NULL OR business_date <= $1)
GROUP BY account_code
ORDER BY account_code;

-- name: account_days
SELECT business_date, debit_minor, credit_minor
FROM ledger_daily_balances
WHERE account_code = $1 AND business_date BETWEEN $2 AND $3
ORDER BY business_date;

-- name: statement
SELECT e.event_id, e.position, e.event_type, e.occurred_at, e.business_date, e.description,
       p.amount_minor, p.payment_id, p.procedure_code
FROM journal_postings p JOIN journal_entries e USING (event_id)
WHERE p.account_code = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
ORDER BY e.position
LIMIT $4;

-- name: balance_before
SELECT coalesce(sum(p.amount_minor), 0)::bigint AS balance
FROM journal_postings p JOIN journal_entries e USING (event_id)
WHERE p.account_code = $1 AND e.occurred_at < $2;

-- name: all_postings
SELECT e.event_id, e.position, e.business_date, p.line, p.account_code, p.amount_minor
FROM journal_entries e JOIN journal_postings p USING (event_id)
ORDER BY e.position, p.line;
