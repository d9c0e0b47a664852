// rename_cascade: what renaming a generation touches. Its descendants' IDs change with it
// (their signatures contain the parent's ID), and every file that mentions any of them needs
// an edit: one row per generation folder, cohort membership line and referencing place.
// Parameters: $root, $gen_id.
MATCH (g:Generation {root: $root, gen_id: $gen_id})
CALL (g) {
  MATCH (d:Generation)-[:DERIVED_FROM*0..]->(g)
  RETURN DISTINCT d
}
CALL (d) {
  RETURN 'folder' AS kind, d.path AS path, null AS line, null AS column, null AS cohort
  UNION ALL
  MATCH (c:Cohort)-[r:INCLUDES]->(d)
  RETURN 'membership' AS kind, r.path AS path, r.line AS line, 'gen_id' AS column, c.cohort_id AS cohort
  UNION ALL
  MATCH (a:Artifact)-[r:REFERENCES]->(d)
  UNWIND coalesce(r.line, [null]) AS line  // one relationship holds the lines of one column's places
  RETURN 'reference' AS kind, a.path AS path, line, r.column AS column, null AS cohort
}
RETURN d.stage AS stage, d.gen_id AS gen_id, kind, path, line, column, cohort
ORDER BY stage, gen_id, kind, path, line, column, cohort
