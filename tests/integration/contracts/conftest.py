"""A real schema registry (Apicurio Registry, Confluent-compatible API) for the contract tests.

The registry's distribution comes from Maven Central through ``registry-pom.xml`` and is
cached under ``~/.cache/saga/apicurio-<hash>/``; one instance serves the whole session and
starts empty (in-memory storage). Tests that need to stop a registry start their own with
``start_schema_registry``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.contracts._apicurio import Registry, resolve_registry, start_registry


@pytest.fixture(scope="session")
def registry_dist() -> Path:
    """The unpacked Apicurio Registry distribution (resolved by Maven on first use)."""
    return resolve_registry()


@pytest.fixture(scope="session")
def schema_registry(
    registry_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """The registry process shared by the session, stopped at its end."""
    log = tmp_path_factory.mktemp("schema-registry") / "registry.log"
    registry = start_registry(registry_dist, log)
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def schema_registry_url(schema_registry: Registry) -> str:
    """URL of the session's registry, as SAGA_SCHEMA_REGISTRY_URL takes it."""
    return schema_registry.url


@pytest.fixture
def start_schema_registry(registry_dist: Path, tmp_path: Path) -> Iterator[Callable[[], Registry]]:
    """Starts short-lived registries for one test; those still running are stopped after it."""
    started: list[Registry] = []

    def start() -> Registry:
        registry = start_registry(registry_dist, tmp_path / f"registry-{len(started)}.log")
        started.append(registry)
        return registry

    yield start
    for registry in started:
        registry.stop()  # returns at once for a registry the test stopped itself
