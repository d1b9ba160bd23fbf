"""The relay: committed outbox rows to Kafka, exactly once, in per-key order."""
