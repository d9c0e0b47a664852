// orphans: essays and evaluations whose parent link is broken: no parent_gen_id, a parent
// that does not exist, sits in the wrong stage, or has unreadable metadata. Each of them is in
// the partial index (label Unusual), so the query starts there. Parameters: $root.
MATCH (g:Unusual {root: $root, meta_status: 'ok'})
WHERE g.stage <> 'draft'
OPTIONAL MATCH (g)-[r:DERIVED_FROM]->(p)
WITH g, r, p, CASE
    WHEN g.parent_gen_id = '' THEN 'parent_id_missing'
    WHEN p:Missing THEN 'parent_missing'
    WHEN p.stage <> r.expected_stage THEN 'parent_wrong_stage'
    WHEN p.meta_status <> 'ok' THEN 'parent_unreadable'
    ELSE '' END AS problem
WHERE problem <> ''
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.parent_gen_id AS parent_gen_id, problem
ORDER BY stage, gen_id, path
