"""Governance gates: dynamic-update rules (freshness), quality suites and classification (issue 5)."""
