"""Prism's origin: the Starlette app that routes, calls providers and writes usage rows."""
