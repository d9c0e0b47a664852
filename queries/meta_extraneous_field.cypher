// meta.extraneous_field: one row per field that does not belong to the stage, or a legacy name.
// Parameters: $root.
MATCH (g:Generation {root: $root, meta_status: 'ok'})
UNWIND g.extraneous AS field
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, field
ORDER BY stage, gen_id, path, field
