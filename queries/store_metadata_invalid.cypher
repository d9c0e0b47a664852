// store.metadata_invalid: metadata.json that is not UTF-8, not JSON, or not a JSON object.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root})
WHERE g.meta_status = 'invalid'
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.meta_error AS error
ORDER BY stage, gen_id, path
