"""Benchmarks: nndsl's generated trainers against hand-written references (see run.py)."""
