// cohort.unreachable: generations listed in no cohort's membership. Parameters: $root.
MATCH (g:Generation {root: $root})
WHERE NOT EXISTS { MATCH (:Cohort)-[:INCLUDES]->(g) }
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path
ORDER BY stage, gen_id, path
