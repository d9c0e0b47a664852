// Problems the loader recorded, as Problem nodes under one check: files it could not use
// (store.path_skipped, cohort.membership_invalid, cohort.manifest_invalid, cohort.spec_invalid)
// and a membership that disagrees with its cohort's spec (cohort.spec_mismatch, which names the
// generation in stage and gen_id). Parameters: $root, $check.
MATCH (p:Problem {root: $root, check: $check})
RETURN p.path AS path, p.line AS line, p.cohort AS cohort, p.message AS error,
       p.subject_stage AS stage, p.subject_gen_id AS gen_id
ORDER BY path, line, cohort, error
