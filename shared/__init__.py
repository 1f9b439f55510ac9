"""Prism's shared core: the one implementation of tags, fingerprints, pricing, usage rows,
header names and error envelopes, imported by both the origin and the edge Worker.

Standard library only, and nothing here does I/O, so it runs unchanged in CPython and Pyodide.
"""
