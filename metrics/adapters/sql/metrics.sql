-- name: add_daily
INSERT INTO metric_daily AS m (business_date, unit_code, agency_code, procedure_code,
    filed_online, filed_counter, fee_bearing_filed, checkout_attempts, paid_online,
    paid_counter, paid_online_minor, paid_counter_minor, refunds, refunds_minor)
SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                     $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
                     $12::bigint[], $13::bigint[], $14::bigint[])
ON CONFLICT (business_date, unit_code, agency_code, procedure_code) DO UPDATE SET
    filed_online = m.filed_online + EXCLUDED.filed_online,
    filed_counter = m.filed_counter + EXCLUDED.filed_counter,
    fee_bearing_filed = m.fee_bearing_filed + EXCLUDED.fee_bearing_filed,
    checkout_attempts = m.checkout_attempts + EXCLUDED.checkout_attempts,
    paid_online = m.paid_online + EXCLUDED.paid_online,
    paid_counter = m.paid_counter + EXCLUDED.paid_counter,
    paid_online_minor = m.paid_online_minor + EXCLUDED.paid_online_minor,
    paid_counter_minor = m.paid_counter_minor + EXCLUDED.paid_counter_minor,
    refunds = m.refunds + EXCLUDED.refunds,
    refunds_minor = m.refunds_minor + EXCLUDED.refunds_minor;

-- name: set_unit_levels
INSERT INTO metric_units (unit_code, administrative_level)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (unit_code) DO UPDATE SET administrative_level = EXCLUDED.administrative_level;

-- name: open_timings
-- requested_at is the filing's moment: a payment is requested by its dossier's filing.
INSERT INTO metric_payment_times (payment_id, requested_at)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[])
ON CONFLICT (payment_id) DO UPDATE SET requested_at = EXCLUDED.requested_at;

-- name: close_timings
INSERT INTO metric_payment_times (payment_id, captured_at, business_date, unit_code, agency_code,
                                  procedure_code)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::date[], $4::text[], $5::text[], $6::text[])
ON CONFLICT (payment_id) DO UPDATE SET
    captured_at = EXCLUDED.captured_at, business_date = EXCLUDED.business_date,
    unit_code = EXCLUDED.unit_code, agency_code = EXCLUDED.agency_code,
    procedure_code = EXCLUDED.procedure_code;

-- name: report
-- Totals over [$1, $2] grouped by the dimension named in $3 ('level', 'unit', 'agency',
-- 'procedure' or 'all') and by day or month ($4), with the median filing-to-payment time.
WITH grouped AS (
    SELECT CASE $4 WHEN 'month' THEN date_trunc('month', m.business_date)::date
                   ELSE m.business_date END AS period,
           CASE $3 WHEN 'level' THEN coalesce(u.administrative_level, 'unknown')
                   WHEN 'unit' THEN m.unit_code
                   WHEN 'agency' THEN m.agency_code
                   WHEN 'procedure' THEN m.procedure_code
                   ELSE 'all' END AS dimension,
           m.*
    FROM metric_daily m LEFT JOIN metric_units u USING (unit_code)
    WHERE m.business_date BETWEEN $1 AND $2
), times AS (
    SELECT CASE $4 WHEN 'month' THEN date_trunc('month', t.business_date)::date
                   ELSE t.business_date END AS period,
           CASE $3 WHEN 'level' THEN coalesce(u.administrative_level, 'unknown')
                   WHEN 'unit' THEN t.unit_code
                   WHEN 'agency' THEN t.agency_code
                   WHEN 'procedure' THEN t.procedure_code
                   ELSE 'all' END AS dimension,
           extract(epoch FROM t.captured_at - t.requested_at) AS seconds
    FROM metric_payment_times t LEFT JOIN metric_units u USING (unit_code)
    WHERE t.business_date BETWEEN $1 AND $2
      AND t.requested_at IS NOT NULL AND t.captured_at IS NOT NULL
), medians AS (  -- once per group (a subquery per output row rescanned every payment)
    SELECT period, dimension,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median_seconds
    FROM times GROUP BY period, dimension
)
SELECT g.period, g.dimension,
       sum(filed_online)::bigint AS filed_online, sum(filed_counter)::bigint AS filed_counter,
       sum(fee_bearing_filed)::bigint AS fee_bearing_filed,
       sum(checkout_attempts)::bigint AS checkout_attempts,
       sum(paid_online)::bigint AS paid_online, sum(paid_counter)::bigint AS paid_counter,
       sum(paid_online_minor)::bigint AS paid_online_minor,
       sum(paid_counter_minor)::bigint AS paid_counter_minor,
       sum(refunds)::bigint AS refunds, sum(refunds_minor)::bigint AS refunds_minor,
       max(md.median_seconds) AS median_seconds
FROM grouped g
LEFT JOIN medians md USING (period, dimension)
GROUP BY g.period, g.dimension
ORDER BY g.period, g.dimension
LIMIT $5;

-- name: cumulative
-- All-time counters per unit, its level and channel-like measure, for Prometheus.
SELECT m.unit_code, coalesce(u.administrative_level, 'unknown') AS level,
       sum(filed_online)::bigint AS filed_online, sum(filed_counter)::bigint AS filed_counter,
       sum(fee_bearing_filed)::bigint AS fee_bearing_filed,
       sum(checkout_attempts)::bigint AS checkout_attempts,
       sum(paid_online)::bigint AS paid_online, sum(paid_counter)::bigint AS paid_counter,
       sum(paid_online_minor)::bigint AS paid_online_minor,
       sum(paid_counter_minor)::bigint AS paid_counter_minor,
       sum(refunds)::bigint AS refunds, sum(refunds_minor)::bigint AS refunds_minor
FROM metric_daily m LEFT JOIN metric_units u USING (unit_code)
GROUP BY m.unit_code, u.administrative_level
ORDER BY m.unit_code;
