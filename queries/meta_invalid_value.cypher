// meta.invalid_value: replicate not a positive integer, mode not llm/copy, copy outside essays.
// Parameters: $root.
// An empty list is not stored: the index on invalid_values holds only the generations that have one.
MATCH (g:Generation {root: $root, meta_status: 'ok'})
WHERE g.invalid_values IS NOT NULL
UNWIND g.invalid_values AS problem
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, problem
ORDER BY stage, gen_id, path, problem
