"""Declaring sagas and participants, and checking them.

The DSL (:mod:`.declarations`, :mod:`.saga`) compiles each saga class into an immutable
:class:`~saga.definition.model.SagaDefinition` when the class is created (:mod:`._compile`,
with graph checks in :mod:`._graph_checks`); :mod:`.participant` declares services' typed
handlers. :mod:`.diagram` and :mod:`.choreography` read the definitions. Pure: no I/O.
"""
