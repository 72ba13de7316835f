"""Lab 04, image size: which of the lecture's three principles (multi-stage, slim base, cache
clean-up) buys how much, measured on one dependency set (claim C3)."""
