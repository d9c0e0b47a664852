// meta.extraneous_field: one row per field that does not belong to the stage, or a legacy name.
// Parameters: $root.
// An empty list is not stored: the index on extraneous holds only the generations that have one.
MATCH (g:Generation {root: $root, meta_status: 'ok'})
WHERE g.extraneous IS NOT NULL
UNWIND g.extraneous AS field
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, field
ORDER BY stage, gen_id, path, field
