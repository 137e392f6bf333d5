"""The local stack: install, start, check and stop every service as a plain process."""
