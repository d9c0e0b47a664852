// meta.required_missing: one row per required field that is absent or empty.
// Parameters: $root.
// An empty list is not stored: the index on required_missing holds only the generations that have one.
MATCH (g:Generation {root: $root, meta_status: 'ok'})
WHERE g.required_missing IS NOT NULL
UNWIND g.required_missing AS field
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, field
ORDER BY stage, gen_id, path, field
