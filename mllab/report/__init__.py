"""Layer 7: the claims judged from typed records, the lab runner and its HTML report."""
