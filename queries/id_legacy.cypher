// id.legacy: legacy IDs, the deterministic ID their metadata implies, and how many
// generations derive from them (a rebuild regenerates those too). Parameters: $root.
MATCH (g:Unusual {root: $root, id_kind: 'legacy'})
CALL (g) {
  OPTIONAL MATCH (d:Generation)-[:DERIVED_FROM*1..]->(g)
  WHERE d <> g
  RETURN count(DISTINCT d) AS descendants
}
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.expected_id AS expected_id, descendants
ORDER BY stage, gen_id, path
