"""Lab 00, the environment E: the fingerprint M(E) on the host and in a container."""
