"""Layer 5: Docker: engine, CLI plumbing, base image, locks, wheelhouses, build, inspect, run."""
