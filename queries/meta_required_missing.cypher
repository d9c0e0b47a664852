// meta.required_missing: one row per required field that is absent or empty.
// Parameters: $root.
MATCH (g:Generation {root: $root, meta_status: 'ok'})
UNWIND g.required_missing AS field
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, field
ORDER BY stage, gen_id, path, field
