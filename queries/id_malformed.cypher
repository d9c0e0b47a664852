// id.malformed: folder names that are neither deterministic nor legacy IDs.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root, id_kind: 'malformed'})
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.id_problem AS problem
ORDER BY stage, gen_id, path
