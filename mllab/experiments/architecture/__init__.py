"""Lab 03, Docker's own architecture: namespaces, capabilities, OverlayFS copy-on-write,
networks, isolation and its limits, PID 1 and signals, base images — each a measurement on the
real engine (claims C17–C22)."""
