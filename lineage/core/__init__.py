"""The bottom layer: ID rules, records, metadata rules, errors and exit codes. Imports nothing of the project."""
