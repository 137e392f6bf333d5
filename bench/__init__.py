"""Benchmarks of the MarketPulse pipeline (run with `make bench`)."""
