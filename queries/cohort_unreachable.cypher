// cohort.unreachable: generations listed in no cohort's membership. Only a cohort has INCLUDES
// relationships, so the pattern names no label at the other end: the server then reads the
// generation's degree instead of visiting its cohorts (half the time at a million).
// Parameters: $root.
MATCH (g:Generation {root: $root})
WHERE NOT EXISTS { (g)<-[:INCLUDES]-() }
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path
ORDER BY stage, gen_id, path
