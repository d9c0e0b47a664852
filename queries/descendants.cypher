// descendants: every generation that derives from a generation, directly or further down,
// with its distance. Parameters: $root, $gen_id.
MATCH (g:Generation {root: $root, gen_id: $gen_id})
MATCH p = (d:Generation)-[:DERIVED_FROM*1..]->(g)
WHERE d <> g
RETURN g.stage AS stage, g.gen_id AS gen_id, min(length(p)) AS depth, d.stage AS descendant_stage,
       d.gen_id AS descendant_id
ORDER BY stage, gen_id, depth, descendant_stage, descendant_id
