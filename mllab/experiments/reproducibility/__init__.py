"""Lab 06, reproducibility: the drift matrix, ONNX Runtime versions, rebuilds (docker, buildah,
BuildKit, base tar), the layer cache, package manifests and image identity, integrity gates."""
