// meta.invalid_value: replicate not a positive integer, mode not llm/copy, copy outside essays.
// Parameters: $root.
MATCH (g:Generation {root: $root, meta_status: 'ok'})
UNWIND g.invalid_values AS problem
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, problem
ORDER BY stage, gen_id, path, problem
