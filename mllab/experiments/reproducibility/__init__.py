"""Lab 05, reproducibility: the drift matrix, ONNX Runtime versions, rebuilds (docker, buildah,
BuildKit, base tar), the layer cache, manifests, integrity gates."""
