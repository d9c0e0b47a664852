"""What the store says: the audit, inventory, IDs and renames, rename impact, cohort rebuilds, show, duplicates."""
