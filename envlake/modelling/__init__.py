"""From the raw zone to published marts: dbt sources generated from contracts, the dbt runner, write-audit-publish."""
