// store.metadata_missing: generation folders without a metadata.json.
// Parameters: $root (the data root the graph was loaded from).
MATCH (g:Generation {root: $root})
WHERE g.meta_status = 'missing'
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, coalesce(g.files, []) AS files
ORDER BY stage, gen_id, path
