// id.stage_mismatch: the metadata stage, or the deterministic prefix, names another stage
// than the folder the generation sits in. Parameters: $root.
CALL () {
  MATCH (g:Unusual {root: $root, meta_status: 'ok'})
  WHERE g.meta_stage <> '' AND g.meta_stage <> g.stage
  RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, 'metadata' AS source, g.meta_stage AS other_stage
  UNION ALL
  MATCH (g:Unusual {root: $root})
  WHERE g.prefix_stage <> '' AND g.prefix_stage <> g.stage
  RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, 'prefix' AS source, g.prefix_stage AS other_stage
}
RETURN stage, gen_id, path, source, other_stage
ORDER BY stage, gen_id, path, source
