// id.malformed: folder names that are neither deterministic nor legacy IDs.
// Parameters: $root.
MATCH (g:Generation {root: $root, id_kind: 'malformed'})
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.id_problem AS problem
ORDER BY stage, gen_id, path
