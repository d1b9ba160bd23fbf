"""Event contracts: what services share.

Events are pydantic models that mirror Avro schemas in ``avro/`` (:mod:`.events`), travel
with an envelope in Kafka headers (:mod:`.envelope`), are encoded by fastavro in the
single-object or Confluent wire format (:mod:`.serde`), and evolve under checked
compatibility rules (:mod:`.compatibility`); :mod:`.codegen` writes the models from the
schema folder (:mod:`.schemas`). Depends on nothing else of the framework but its errors and
settings.
"""
