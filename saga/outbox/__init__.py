"""The transactional outbox and inbox on PostgreSQL, and the relay to Kafka.

:mod:`.writer` puts encoded events in the caller's transaction; :mod:`.relay` publishes
committed rows exactly once in per-key order (lanes in :mod:`._lane`, SQL in :mod:`._store`,
progress records in :mod:`._progress`); :mod:`.inbox` applies consumed events exactly once
(the loop pieces it shares with the saga worker, dead letters among them, in
:mod:`.consuming`); :mod:`.admin` holds the operators' functions.
"""
