// chain.parent_unreadable: the parent folder exists in the right stage, but its metadata is
// missing or invalid. Children with a broken link are in the partial index (label Unusual).
// Parameters: $root.
MATCH (c:Unusual {root: $root})-[r:DERIVED_FROM]->(p:Generation)
WHERE p.stage = r.expected_stage AND p.meta_status <> 'ok'
RETURN c.stage AS stage, c.gen_id AS gen_id, c.path AS path, p.gen_id AS parent_gen_id,
       p.meta_status AS parent_status
ORDER BY stage, gen_id, path
