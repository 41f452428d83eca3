"""The closed loop: problems dispatched to the enforcement system, and overdue alerts."""
