"""Prism's origin: the Starlette app that routes, calls providers and writes usage rows."""

import os

# The pair verifier (origin.cache.pair_verifier) runs MiniLM in numpy inside the worker. With
# OpenBLAS's default threads, its spinning helpers fight the event loop and the other workers
# for the cores: a verification measured 10x slower under load than single-threaded. This must
# be set before numpy loads, hence here; a value in the environment still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
