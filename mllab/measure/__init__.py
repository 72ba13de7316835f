"""Layer 2: measuring: statistics and timing, T(n) fit, profiling, runners, drift, roofline."""
