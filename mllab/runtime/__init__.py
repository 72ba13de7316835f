"""Layer 1: ONNX Runtime sessions, providers, I/O binding, cgroup quotas."""
