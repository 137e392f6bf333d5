"""MarketPulse: real-time stock-market analytics on Kafka, Spark, Redis, Cassandra, Postgres and S3."""

__version__ = "0.1.0"
