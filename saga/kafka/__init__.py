"""Every confluent-kafka call outside the relay: consumer configuration and offsets, dead-letter
headers, topic administration, reading topics without a group, librdkafka logging."""
