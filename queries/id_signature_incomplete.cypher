// id.signature_incomplete: signature inputs missing or invalid, so no ID can be recomputed.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root, meta_status: 'ok'})
WHERE g.signature_error <> ''
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.signature_error AS error
ORDER BY stage, gen_id, path
