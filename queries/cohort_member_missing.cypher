// cohort.member_missing: membership rows naming a generation that does not exist in that
// stage, one row per membership line. Parameters: $root.
MATCH (c:Cohort {root: $root})-[r:INCLUDES]->(m:Missing)
RETURN r.stage AS stage, m.gen_id AS gen_id, r.path AS path, r.line AS line, 'gen_id' AS column,
       c.cohort_id AS cohort
ORDER BY stage, gen_id, path, line, cohort
