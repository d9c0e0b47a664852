// chain.parent_id_missing: essays and evaluations without parent_gen_id. Parameters: $root.
MATCH (g:Unusual {root: $root, meta_status: 'ok'})
WHERE g.stage <> 'draft' AND g.parent_gen_id = ''
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path
ORDER BY stage, gen_id, path
