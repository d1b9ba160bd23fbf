"""The durable runtime: sagas and participants on Kafka and PostgreSQL.

:mod:`.worker` hosts them in one process (consumer loop, deadlines, signals, an embedded
relay); :mod:`.store` implements the engine's ports on PostgreSQL; :mod:`.topics` says which
topic each event travels on; :mod:`.signals` sends signals from outside.
"""
