"""Layer 0: errors, paths, typed records, outcomes, tables, hashing. Imports nothing of mllab."""
