-- The members of a match were found through an index on match_key in each membership table,
-- maintained for every member a run writes (a million on a large day) and read only by an undo
-- and by the look-up of one line's match. On the project's machine each of those index entries
-- cost about 3 µs, a fifth of what writing a 1:1 match cost PostgreSQL. The match row now carries
-- its members, as the event does: those two look-ups read them from the row and reach the
-- membership rows through the live indexes, and the match_key indexes go.
ALTER TABLE recon_matches ADD COLUMN line_keys text[], ADD COLUMN item_ids uuid[];
UPDATE recon_matches mt SET
    line_keys = (SELECT array_agg(x.line_key ORDER BY x.position, x.line_key)
                 FROM recon_match_lines x WHERE x.match_key = mt.match_key),
    item_ids = (SELECT coalesce(array_agg(x.item_id ORDER BY x.position, x.item_id), '{}')
                FROM recon_match_items x WHERE x.match_key = mt.match_key);
ALTER TABLE recon_matches ALTER COLUMN line_keys SET NOT NULL,
                          ALTER COLUMN item_ids SET NOT NULL;
DROP INDEX recon_match_lines_match;
DROP INDEX recon_match_items_match;
