// meta.extraneous_field: one row per field that does not belong to the stage, or a legacy name.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root, meta_status: 'ok'})
WHERE g.extraneous IS NOT NULL
UNWIND g.extraneous AS field
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, field
ORDER BY stage, gen_id, path, field
