-- A line's or item's memberships in matches are looked up two ways: live (undone_position IS
-- NULL: the partial unique indexes of 0401) and as of a past position, where a membership undone
-- after that position still counts. 0401 served the second with a full index on the member,
-- which every COPY of a run's matches maintained at random places for a million members
-- (item ids are random UUIDs): about 3 µs per row, as much as the live index. Undone memberships
-- are rare, so the as-of queries now take the live index and this small partial one, each
-- condition in its own EXISTS (reconciliation.sql), and a new membership touches neither full
-- index any more.
DROP INDEX recon_match_lines_line;
DROP INDEX recon_match_items_item;
CREATE INDEX recon_match_lines_undone ON recon_match_lines (line_key)
    WHERE undone_position IS NOT NULL;
CREATE INDEX recon_match_items_undone ON recon_match_items (item_id)
    WHERE undone_position IS NOT NULL;
