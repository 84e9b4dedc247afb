-- A command receipt keeps its response as the `json` text the store was given, no longer as
-- `jsonb`. jsonb reorders object keys (shorter keys first), so a replayed request got the same
-- values as the first answer but not the same document: `POST /dossiers` answered
-- {"dossier_id":…,"procedure_code":…,"unit_code":…} and its replay {"channel":…,"payment":…}.
-- With `json` the replay is byte for byte the first answer
-- (tests/integration/test_payments_api.py holds it). No SQL reads into responses.
-- Receipts stored before keep jsonb's key order: their original order is gone.
ALTER TABLE command_receipts ALTER COLUMN response TYPE json USING response::json;

-- events_append (0007) takes the response as a parameter of the same type. Its body stays as it
-- is: the new function is created from the definition the server holds, with only that
-- parameter's type changed, and the old signature is dropped.
DO $$
DECLARE
    definition text := pg_get_functiondef('events_append'::regproc);
    changed text := replace(definition, 'receipt_response jsonb', 'receipt_response json');
BEGIN
    IF changed = definition THEN
        RAISE EXCEPTION 'events_append has no parameter "receipt_response jsonb" to change';
    END IF;
    EXECUTE changed;  -- CREATE OR REPLACE with another parameter type: a new overload
    DROP FUNCTION events_append(
        uuid[], text[], int[], text[], int[], timestamptz[], uuid[], uuid[], text[], json[],
        bytea[], bytea[], text, text, bytea, int, jsonb
    );
END
$$;
