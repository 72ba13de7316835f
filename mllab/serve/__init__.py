"""Layer 4: the inference server: app, request bodies, client, server process."""
