// chain.parent_missing: parent_gen_id names no generation in any stage. Parameters: $root.
// Children with a broken link are in the partial index (label Unusual).
MATCH (c:Unusual {root: $root})-[:DERIVED_FROM]->(p:Missing)
RETURN c.stage AS stage, c.gen_id AS gen_id, c.path AS path, p.gen_id AS parent_gen_id
ORDER BY stage, gen_id, path
