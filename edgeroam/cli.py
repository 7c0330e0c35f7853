"""The `edgeroam` command line: a thin typer shell over the Python API.

Each area's commands live in `edgeroam.commands.<area>` (parse options, call one public function, render with
rich). This module only mounts them and maps `EdgeroamError` to one red line and exit status 1.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from edgeroam.errors import EdgeroamError

__all__ = ["app", "main"]

# area name -> module defining `app` (a typer.Typer) or `register(app)` for top-level commands
_AREAS: dict[str, str] = {
    "datasets": "edgeroam.commands.datasets",
    "dnn": "edgeroam.commands.dnn",
    "predict": "edgeroam.commands.predict",
    "topology": "edgeroam.commands.topology",
}
_TOP_LEVEL: list[str] = [
    "edgeroam.commands.demo",
    "edgeroam.commands.run",
    "edgeroam.commands.report",
    "edgeroam.commands.map",
    "edgeroam.commands.doctor",
    "edgeroam.commands.clean",
    "edgeroam.commands.sweep",
    "edgeroam.commands.reproduce",
    "edgeroam.commands.planners",
]

app = typer.Typer(
    name="edgeroam",
    help="Mobility-aware edge-computing emulator: replay real GPS traces over hex Wi-Fi cells and migrate "
    "DNN layers between edge servers ahead of the user.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from edgeroam import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """edgeroam command line."""


for _name, _module in _AREAS.items():
    app.add_typer(importlib.import_module(_module).app, name=_name)
for _module in _TOP_LEVEL:
    importlib.import_module(_module).register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status.

    Usage errors are reported by typer (exit 2); an EdgeroamError becomes one red line on stderr and exit 1.
    """
    err = Console(stderr=True)
    try:
        app(args=argv, prog_name="edgeroam", standalone_mode=True)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    except EdgeroamError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
