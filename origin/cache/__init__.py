"""Prism's own response cache at the origin: exact (Redis) and semantic (vector) layers."""
