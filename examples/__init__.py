"""The example store that ships with lineage (`lineage demo`): a small data root in data/ with
one of each problem the audit knows. Installed as the package data of `lineage.examples`."""
