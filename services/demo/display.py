"""The live view of a demo run (sagas by state, orders placed, what happened), and the
summary at the end. Without a terminal (CI, ``--json``) the live view is left out."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from services.demo.report import Report
from services.orders.saga import OrderSaga

_STATES = [*OrderSaga.__saga__.states, "compensating"]
_ORDER = ["checking_out", "shipping", "capturing", "compensating"]
_STYLE = {"completed": "green", "cancelled": "yellow", "needs_attention": "red"}


@dataclass
class Live:
    """What the live view shows; the run updates it, rich redraws it."""

    title: str
    total: int
    placed: int = 0
    elapsed: float = 0.0
    placing: float | None = None  # seconds it took to place them all
    states: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.events.append(f"{self.elapsed:5.1f}s  {text}")

    def __rich__(self) -> RenderableType:
        table = Table(title=self.title, title_justify="left", expand=False, min_width=60)
        table.add_column("saga state")
        table.add_column("sagas", justify="right")
        table.add_column("", min_width=30)
        ordered = _ORDER + [s for s in _STATES if s not in _ORDER]
        most = max([1, *self.states.values()])
        for state in ordered:
            count = self.states.get(state, 0)
            if not count and state in ("needs_attention", "failed"):
                continue
            bar = "█" * round(30 * count / most) if count else ""
            table.add_row(state, str(count), Text(bar, style=_STYLE.get(state, "cyan")))
        ended = sum(self.states.get(s, 0) for s in ("completed", "cancelled", "needs_attention"))
        took = self.placing or self.elapsed
        rate = self.placed / took if took else 0.0
        status = Text(
            f"placed {self.placed}/{self.total} ({rate:.0f}/s) · ended {ended} · "
            f"{self.elapsed:.1f}s"
        )
        return Group(table, status, *(Text(e, style="dim") for e in self.events[-6:]))


def summary(report: Report, seconds: float) -> RenderableType:
    """The end of the run: outcomes, timing, invariants."""
    outcomes = Table(title="Outcomes", title_justify="left")
    outcomes.add_column("reason")
    outcomes.add_column("orders", justify="right")
    for reason, count in report.outcomes.items():
        note = ""
        if reason == "completed" and report.capture_retries:
            note = f"  ({report.capture_retries} after a capture retry)"
        outcomes.add_row(reason + note, str(count))

    timing = Table(title="Timing", title_justify="left", show_header=False)
    timing.add_row("sagas / s", f"{report.sagas_per_second:.1f}")
    timing.add_row("order → end", _percentiles(report.latency_ms))
    if report.outage is not None:
        outage = report.outage
        down = f"{outage['seconds']:.1f} s" if outage["seconds"] is not None else "until the end"
        timing.add_row(
            f"{outage['service']} down",
            f"{down} from its SIGKILL to its first event after the restart (most of it Kafka's "
            "10 s session timeout, before the group gives the dead worker's partitions away)",
        )
        timing.add_row(
            "  in flight then",
            f"{outage['orders_in_flight']} orders: " + _percentiles(outage["latency_ms_in_flight"]),
        )
        timing.add_row(
            "  the other orders",
            f"{outage_others(report)} orders: " + _percentiles(outage["latency_ms_others"]),
        )
    timing.add_row("whole run", f"{seconds:.1f} s")

    checks = Table(title="Invariants", title_justify="left", show_header=False)
    for check in report.checks:
        mark = Text("✓", style="green") if check.ok else Text("✗", style="bold red")
        checks.add_row(mark, check.name, Text(check.detail, style="dim"))
    return Group(outcomes, timing, checks)


def outage_others(report: Report) -> int:
    assert report.outage is not None
    ended = sum(1 for o in report.orders if o.ended_at is not None)
    return ended - int(report.outage["orders_in_flight"])


def _percentiles(latency: dict[str, float]) -> str:
    return (
        f"p50 {latency['p50']:.0f} ms · p99 {latency['p99']:.0f} ms · max {latency['max']:.0f} ms"
    )
