// store.metadata_missing: generation folders without a metadata.json.
// Parameters: $root (the data root the graph was loaded from).
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root})
WHERE g.meta_status = 'missing'
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, coalesce(g.files, []) AS files
ORDER BY stage, gen_id, path
