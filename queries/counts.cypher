// counts: generations by stage and ID class. Parameters: $root.
MATCH (g:Generation {root: $root})
RETURN g.stage AS stage, g.id_kind AS id_class, count(*) AS generations
ORDER BY stage, id_class
