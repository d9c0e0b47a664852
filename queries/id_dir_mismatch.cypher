// id.dir_mismatch: metadata gen_id missing or different from the folder name.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root, meta_status: 'ok'})
WHERE g.meta_gen_id <> g.gen_id
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.meta_gen_id AS meta_gen_id
ORDER BY stage, gen_id, path
