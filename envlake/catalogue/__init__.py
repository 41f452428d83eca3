"""The data catalogue site: every dataset with its fields, classes, cycle, freshness and lineage."""
