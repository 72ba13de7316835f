"""Layer 3: the model: ResNet-50, preprocessing, ONNX export, artefact cache, INT8, fp16."""
