"""The soak's fault schedule, drawn from a seed: the same seed and sizes give the same faults
at the same moments (seconds after the first order), whatever happens during the run."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from typing import Literal

from services.common import SERVICES

Kind = Literal["kill", "pause", "storm", "broker", "postgres"]
#: What a kill or pause may hit: each service's worker (its relay runs in it) and the API.
VICTIMS = (*SERVICES, "api")


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the first order was due
    kind: Kind
    target: str  # a process (kill, pause), a service (storm), or the server
    seconds: float = 0.0  # how long a pause, storm or broker stop lasts

    def describe(self) -> str:
        what = {
            "kill": f"SIGKILL {self.target}",
            "pause": f"SIGSTOP {self.target} for {self.seconds:.1f}s, then SIGCONT",
            "storm": f"2 more {self.target} workers for {self.seconds:.1f}s (rebalance storm)",
            "broker": f"SIGSTOP Kafka for {self.seconds:.1f}s (unreachable), then SIGCONT",
            "postgres": "PostgreSQL stop -m immediate, then start",
        }[self.kind]
        return f"t+{self.at:6.1f}s  {what}"


def make_schedule(seed: int, kills: int, window: float, *, outages: bool) -> list[Fault]:
    """``kills`` SIGKILLs plus pauses, storms and (with ``outages``) broker and database
    restarts, spread over ``window`` seconds (the time orders are being placed)."""
    rng = random.Random(f"soak-{seed}")  # noqa: S311 (reproducible on purpose)
    start, end = 0.1 * window, 0.85 * window

    def when() -> float:
        return round(rng.uniform(start, end), 1)

    # Every kind of process dies at least once (when there are kills enough), then any.
    victims = rng.sample(VICTIMS, len(VICTIMS))[:kills]
    victims += [rng.choice(VICTIMS) for _ in range(kills - len(victims))]
    faults = [Fault(when(), "kill", victim) for victim in victims]
    workers = SERVICES  # a paused API would only slow the customers down
    for _ in range(max(1, kills // 10)):
        faults.append(Fault(when(), "pause", rng.choice(workers), round(rng.uniform(1, 15), 1)))
    for _ in range(max(1, kills // 40)):
        faults.append(Fault(when(), "storm", rng.choice(workers), round(rng.uniform(5, 15), 1)))
    if outages:
        # Apart from each other: two broker stops at once would be one long stop.
        slots = sorted(rng.sample(range(1, 10), 1 + kills // 100 + max(1, kills // 100)))
        broker = slots[: 1 + kills // 100]
        for slot in broker:
            at = round(start + (end - start) * slot / 10, 1)
            faults.append(Fault(at, "broker", "kafka", round(rng.uniform(2, 8), 1)))
        for slot in slots[len(broker) :]:
            at = round(start + (end - start) * slot / 10, 1)
            faults.append(Fault(at, "postgres", "postgresql"))
    faults.sort(key=lambda f: (f.at, f.kind, f.target))
    return faults


def fingerprint(faults: list[Fault]) -> str:
    """A short digest of the schedule: two runs with the same one had the same faults."""
    text = json.dumps([asdict(f) for f in faults], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
