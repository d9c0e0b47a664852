// id.signature_mismatch: deterministic-format IDs that their metadata does not reproduce
// for any collision suffix k = 0..4, with the count of descendants. Parameters: $root.
MATCH (g:Unusual {root: $root})
WHERE g.id_matches = false
CALL (g) {
  OPTIONAL MATCH (d:Generation)-[:DERIVED_FROM*1..]->(g)
  WHERE d <> g
  RETURN count(DISTINCT d) AS descendants
}
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, g.expected_id AS expected_id, descendants
ORDER BY stage, gen_id, path
