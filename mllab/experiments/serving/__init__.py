"""Lab 02, the inference server: HTTP versus in-process, the lecture's Flask service."""
