"""Spark Structured Streaming jobs and the Spark session they share."""
