"""What an operator sees of the origin: metrics, logs and traces.

It sits just above `origin.settings` in the import layers so every other package can record
through it; it imports nothing else of the origin.
"""
