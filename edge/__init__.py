"""Prism's edge tier: a Python Cloudflare Worker in front of the origin.

Only `entry.py` touches the Workers runtime; every other module is plain Python that imports
in CPython too, so the edge's logic is tested there against real servers.
"""
