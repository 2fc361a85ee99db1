"""Plans of the top statements (captured with EXPLAIN, never executed), plan changes, and index advice."""
