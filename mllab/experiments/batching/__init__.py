"""Lab 04, GPU and batching: the GPU paths and the benchmark suite."""
