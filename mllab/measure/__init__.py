"""Layer 2: measuring: statistics and timing, T(n) fit, profiling, runners, drift, roofline,
load generation (locust in its own process, :mod:`mllab.measure.load`; a closed loop of calls
in threads, :mod:`mllab.measure.closed_loop`) and the benchmark suite
(:mod:`mllab.measure.suite`)."""
