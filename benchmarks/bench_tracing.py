"""What tracing costs the worker: ``bench_worker``'s drain (a topic pre-filled with the
inputs of ``--flows`` four-step sagas, 5 inputs each, drained by one ``saga worker``) with
tracing off, on (every span recorded and exported: the console exporter, to /dev/null),
and sampled (``parentbased_traceidratio`` 10 %), the modes alternating for ``--rounds``.

    .venv/bin/python benchmarks/bench_tracing.py [--flows 4000] [--rounds 2]

Reports inputs/s and the worker process's CPU seconds (user + system, from ``getrusage``
of the waited-for child; start-up included): on a shared machine the CPU figure moves far
less than the rate with what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import endpoints, scratch_database, scratch_topics
from bench_worker import PARTITIONS, fill, worker_rate, write_contracts

from saga.contracts.serde import Serializer
from saga.postgres.tables import upgrade_database
from saga.settings import Settings

MODES: dict[str, dict[str, str]] = {
    "off": {},
    "on": {"OTEL_TRACES_EXPORTER": "console"},
    "sampled": {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    },
}
_OTEL = {name for mode in MODES.values() for name in mode}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def drain(url: str, bootstrap: str, flows: int, contracts: Path, mode: str) -> dict[str, float]:
    for name in _OTEL:  # the worker inherits this process's environment
        os.environ.pop(name, None)
    os.environ.update(MODES[mode])
    serializer = Serializer(Settings(schema_dir=contracts))
    prefix = f"b{uuid.uuid4().hex[:8]}."
    topics = [f"{prefix}bench.flow", f"{prefix}bench.work", f"{prefix}bench.dead-letters"]
    with scratch_database(url) as db, scratch_topics(bootstrap, topics, PARTITIONS):
        upgrade_database(db)
        fill(bootstrap, topics[0], flows, serializer)
        before = children_cpu()
        result = worker_rate(db, bootstrap, prefix, flows, 1, contracts, False)
        cpu = children_cpu() - before
    return {**result, "worker_cpu_s": round(cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flows", type=int, default=4000, help="instances (5 inputs each)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    url, bootstrap = endpoints()
    contracts = Path(f"/tmp/bench-contracts-{uuid.uuid4().hex[:6]}")
    write_contracts(contracts)
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            runs[mode].append(drain(url, bootstrap, args.flows, contracts, mode))
            print(mode, json.dumps(runs[mode][-1]), flush=True)
    report: dict[str, Any] = {"flows": args.flows, "inputs": args.flows * 5}
    for mode, results in runs.items():
        report[mode] = {
            "inputs_per_s": [r["inputs_per_s"] for r in results],
            "worker_cpu_s": [r["worker_cpu_s"] for r in results],
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
