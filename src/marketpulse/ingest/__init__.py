"""Ingest: sources (replay, synthetic, live providers) -> validated events -> Kafka, rejects -> DLQ."""
