// meta.invalid_value: replicate not a positive integer, mode not llm/copy, copy outside essays.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root, meta_status: 'ok'})
WHERE g.invalid_values IS NOT NULL
UNWIND g.invalid_values AS problem
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, problem
ORDER BY stage, gen_id, path, problem
