"""Lab 03's small app (claim C22): it needs ONNX Runtime and numpy, and says which it got."""

import numpy
import onnxruntime

print(onnxruntime.__version__, numpy.__version__, onnxruntime.get_available_providers())
