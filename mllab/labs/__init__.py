"""One facade per lab: what a notebook of ``labs/`` imports from the kit, and nothing else.

A lab opens with ``from mllab.labs import lab01`` (plus the real libraries the lecture teaches:
torch, onnxruntime, docker, numpy, matplotlib). Each module here names the lab's whole kit
vocabulary, short enough to read on one screen: the steps the lab runs, its records, its
exercise checks and the claims it judges. The plumbing a notebook would otherwise carry
(``if FLAG ... else not_run``, merging records) lives in these functions, so the cells show the
lecture's idea and the numbers, not the wiring. The facades sit at the top of the layers, beside
``cli``: they may import any layer below, and nothing imports them.
"""
