// ref.dangling: IDs in CSV cells, path columns, selection-file lines and results/ file names
// that match no generation, one row per place. Parameters: $root.
// One relationship holds the lines of one column's places (a file name's has none).
MATCH (a:Artifact {root: $root})-[r:REFERENCES]->(m:Missing)
UNWIND coalesce(r.line, [null]) AS line
RETURN r.stage AS stage, m.gen_id AS gen_id, a.path AS path, line, r.column AS column, r.kind AS kind
ORDER BY stage, gen_id, path, line, column, kind
