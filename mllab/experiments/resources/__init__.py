"""Lab 07, resources and load: CPU and memory limits, L(c), OOM, overhead η, load, scale-out."""
