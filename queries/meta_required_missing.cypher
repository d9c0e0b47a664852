// meta.required_missing: one row per required field that is absent or empty.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root, meta_status: 'ok'})
WHERE g.required_missing IS NOT NULL
UNWIND g.required_missing AS field
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, field
ORDER BY stage, gen_id, path, field
