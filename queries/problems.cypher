// Files the loader could not use, recorded as Problem nodes under one check:
// store.path_skipped, cohort.membership_invalid or cohort.manifest_invalid.
// Parameters: $root, $check.
MATCH (p:Problem {root: $root, check: $check})
RETURN p.path AS path, p.line AS line, p.cohort AS cohort, p.message AS error
ORDER BY path, line, cohort, error
