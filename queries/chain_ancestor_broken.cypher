// chain.ancestor_broken: the parent link is sound, but the link above it is not. Only an
// evaluation has a grandparent: its essay lacks a parent id, or the essay's parent is missing,
// misplaced or unreadable. That essay's link is broken, so it is in the partial index (label
// Unusual): the walk starts from there, judges each essay's link, and only then goes down to
// the evaluations of the broken ones. Parameters: $root.
MATCH (p:Unusual {root: $root, stage: 'essay', meta_status: 'ok'})
OPTIONAL MATCH (p)-[:DERIVED_FROM]->(up)
WITH p, CASE
    WHEN p.parent_gen_id = '' THEN 'parent_id_missing'
    WHEN up:Missing THEN 'parent_missing'
    WHEN up.stage <> 'draft' THEN 'parent_wrong_stage'
    WHEN up.meta_status <> 'ok' THEN 'parent_unreadable'
    ELSE '' END AS problem
WHERE problem <> ''
MATCH (p)<-[:DERIVED_FROM]-(c:Generation {root: $root, stage: 'evaluation', meta_status: 'ok'})
RETURN c.stage AS stage, c.gen_id AS gen_id, c.path AS path, c.parent_gen_id AS parent_gen_id,
       p.gen_id AS ancestor_gen_id, p.stage AS ancestor_stage, problem
ORDER BY stage, gen_id, path
