// store.files_missing: generations without parsed.txt, parsed_metadata.json or raw_metadata.json.
// Parameters: $root.
// :Unusual generations are those a check of one generation might report (the partial index
// lineage.loaders.graph_model.is_unusual), a few percent of them on a typical store.
MATCH (g:Unusual {root: $root})
WHERE g.meta_status <> 'missing'
WITH g, [f IN ['parsed.txt', 'parsed_metadata.json', 'raw_metadata.json'] WHERE NOT f IN coalesce(g.files, [])] AS missing
WHERE size(missing) > 0
RETURN g.stage AS stage, g.gen_id AS gen_id, g.path AS path, missing, 'raw.txt' IN coalesce(g.files, []) AS has_raw
ORDER BY stage, gen_id, path
