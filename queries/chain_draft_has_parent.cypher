// chain.draft_has_parent: drafts with a non-empty parent_gen_id. Parameters: $root.
MATCH (g:Unusual {root: $root, stage: 'draft', meta_status: 'ok'})
WHERE g.parent_gen_id <> ''
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.parent_gen_id AS parent_gen_id
ORDER BY stage, gen_id, path
