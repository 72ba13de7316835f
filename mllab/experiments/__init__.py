"""Layer 6: one module per lab experiment (fingerprint, drift matrix, rebuilds, limits, ...)."""
