"""The public surface is deliberate: adding or removing a name must change this test."""

import saga
import saga.testing

PUBLIC = {
    "COMPENSATE", "AvroInt", "AvroLong", "BatchContext", "ChoreographyReport", "CompatibilityError",
    "ConcurrencyError", "ConfigError", "Context", "ContractError", "Contracts", "DecodeError",
    "Decoded", "DefinitionError", "EncodeError", "Encoded", "Envelope", "Event", "HistoryEntry",
    "Instance", "Level", "Message", "Participant", "PayloadTooLarge", "Record",
    "RegistryUnavailable", "Saga", "SagaError", "SchemaVersion", "Serializer", "Settings",
    "Signal", "StackError", "Start", "State", "Step", "UnknownInstanceError",
    "UnknownSchemaError", "__version__", "check_choreography", "check_contracts", "contract_of",
    "event_class", "event_name", "load_contracts", "mermaid", "registered_events", "transition",
    "Outbox", "OutboxEntry", "Relay", "Lag", "outbox_lag", "cleanup_outbox", "requeue_refused",
    "discard_refused", "Inbox", "InboxConsumer", "consumer_config", "cleanup_inbox",
    "create_tables", "upgrade_database", "TransportError",
    "Worker", "TopicMap", "DatabaseClock", "send_signal", "SignalRefused",
}  # fmt: skip

TESTING = {
    "Faults", "Harness", "OrphanEvent", "TestBackend", "VirtualClock", "eventually",
    "recorded_history", "replay", "select_test_backend",
}  # fmt: skip


def test_saga_exports_exactly_the_public_api() -> None:
    assert set(saga.__all__) == PUBLIC
    for name in saga.__all__:
        assert hasattr(saga, name), name


def test_testing_exports() -> None:
    assert set(saga.testing.__all__) == TESTING
    for name in saga.testing.__all__:
        assert hasattr(saga.testing, name), name


def test_every_error_descends_from_saga_error() -> None:
    errors = [getattr(saga, n) for n in saga.__all__ if n.endswith(("Error", "Unavailable"))]
    errors.append(saga.PayloadTooLarge)
    for error in errors:
        assert issubclass(error, saga.SagaError), error
    retriable = {e.__name__ for e in errors if e.retriable}
    assert retriable == {"RegistryUnavailable", "ConcurrencyError", "TransportError"}
