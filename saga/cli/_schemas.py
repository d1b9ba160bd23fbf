"""`saga schemas check | generate | list`: the Avro contracts in ``avro/``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from saga.contracts.codegen import generate_module
from saga.contracts.compatibility import STRICT_LOGICAL_TYPES, Level, check_contracts, parse_level
from saga.contracts.schemas import load_contracts
from saga.settings import Settings

schemas_app = typer.Typer(
    help="Check, list and generate code from the Avro event contracts.", no_args_is_help=True
)
out = Console(highlight=False, soft_wrap=True)  # one line per finding, however narrow
err = Console(stderr=True, highlight=False, soft_wrap=True)

_DIR_HELP = "contract folder (default: SAGA_SCHEMA_DIR, else ./avro)"


def _folder(directory: Path | None) -> Path:
    return Settings().schema_dir if directory is None else directory


@schemas_app.command("check")
def check(
    directory: Annotated[Path | None, typer.Argument(help=_DIR_HELP, show_default=False)] = None,
    level: Annotated[
        str,
        typer.Option(
            "--level",
            "-l",
            help="BACKWARD, FORWARD or FULL, each optionally _TRANSITIVE; or NONE",
        ),
    ] = Level.BACKWARD_TRANSITIVE.value,
    strict_logical_types: Annotated[
        bool,
        typer.Option(
            f"--{STRICT_LOGICAL_TYPES}/--no-{STRICT_LOGICAL_TYPES}",
            help="refuse changes of known logical types (beyond the Avro specification)",
        ),
    ] = True,
) -> None:
    """Fail (exit 1) when a contract version breaks the compatibility level."""
    contracts = load_contracts(_folder(directory))
    report = check_contracts(
        contracts, parse_level(level), strict_logical_types=strict_logical_types
    )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(str(warning))}", soft_wrap=True)
    if not report.ok:
        for item in report.incompatibilities:
            err.print(f"[red]✗[/] {escape(str(item))}", soft_wrap=True)
        err.print(
            f"{len(report.incompatibilities)} incompatible change(s) at {report.level.value}: "
            "publish a compatible version instead (new fields need defaults, types stay)",
            soft_wrap=True,
        )
        if any(item.strictness == STRICT_LOGICAL_TYPES for item in report.incompatibilities):
            err.print(
                f"[rule {STRICT_LOGICAL_TYPES}] is stricter than the Avro specification on "
                f"purpose; --no-{STRICT_LOGICAL_TYPES} checks the specification's rules only",
                soft_wrap=True,
                markup=False,
            )
        raise typer.Exit(1)
    warned = f", {len(report.warnings)} warning(s)" if report.warnings else ""
    out.print(
        f"[green]✓[/] {len(contracts.names())} contracts, {report.schemas} versions, "
        f"{report.pairs} version pairs compatible at {report.level.value}{warned}"
    )


@schemas_app.command("generate")
def generate(
    output: Annotated[
        Path, typer.Option("--out", "-o", help="module to write, e.g. app/events.py")
    ],
    directory: Annotated[Path | None, typer.Argument(help=_DIR_HELP, show_default=False)] = None,
    check_only: Annotated[
        bool,
        typer.Option("--check", help="write nothing; exit 1 when the module is out of date"),
    ] = False,
) -> None:
    """Write the pydantic event models for the latest version of every contract."""
    folder = _folder(directory)
    text = generate_module(load_contracts(folder))
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if check_only:
        if current != text:
            err.print(
                f"[red]✗[/] {output} is out of date with {folder}: "
                f"run `saga schemas generate --out {output}`",
                soft_wrap=True,
            )
            raise typer.Exit(1)
        out.print(f"[green]✓[/] {output} is up to date with {folder}")
        return
    if current == text:
        out.print(f"{output} is already up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    out.print(f"wrote {output}")


@schemas_app.command("list")
def list_contracts(
    directory: Annotated[Path | None, typer.Argument(help=_DIR_HELP, show_default=False)] = None,
) -> None:
    """Every contract version: name, version, CRC-64-AVRO fingerprint (hex), file."""
    contracts = load_contracts(_folder(directory))
    for version in contracts:
        out.print(
            escape(
                f"{version.name}  v{version.version}  {version.fingerprint.hex()}  {version.path}"
            ),
            soft_wrap=True,
        )
