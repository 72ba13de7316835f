"""Lab 05, GPU and batching: the GPU paths (the benchmark suite is in ``mllab.measure.suite``)."""
