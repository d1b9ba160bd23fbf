"""Running sagas and participants, the same way in memory and on Kafka + PostgreSQL.

:func:`.decide.decide` is pure: (definition, instance, input, now) to a decision.
:mod:`.processing` applies decisions and participants' handlers in a unit of work through
the :mod:`.ports` (the inbox claim, instances, history, outbox, deadlines); every runtime
goes through it. :mod:`.instance` and :mod:`.messages` are the data that flows.
"""
