// chain.parent_wrong_stage: the parent exists, but in a stage other than the expected one.
// Children with a broken link are in the partial index (label Unusual). Parameters: $root.
MATCH (c:Unusual {root: $root})-[r:DERIVED_FROM]->(p:Generation)
WHERE p.stage <> r.expected_stage
RETURN c.stage AS stage, c.gen_id AS gen_id, c.path AS path, p.gen_id AS parent_gen_id,
       p.stage AS parent_stage, r.expected_stage AS expected_stage
ORDER BY stage, gen_id, path
