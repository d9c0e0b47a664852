// ancestry: the parents of a generation up to its draft, nearest first; a parent ID without a
// folder shows as ancestor_stage null. Parameters: $root, $gen_id.
MATCH (g:Generation {root: $root, gen_id: $gen_id})
MATCH p = (g)-[:DERIVED_FROM*1..]->(a)
WHERE a <> g
RETURN g.stage AS stage, g.gen_id AS gen_id, length(p) AS depth, a.stage AS ancestor_stage,
       a.gen_id AS ancestor_id
ORDER BY stage, gen_id, depth, ancestor_stage, ancestor_id
