"""The `edgeroam` command line: a thin typer shell over the Python API.

Each area's commands live in `edgeroam.commands.<area>` (parse options, call one public function, render with
rich). This module only mounts them and maps `EdgeroamError` to one red line and exit status 1.
"""

from __future__ import annotations

import functools
import gc
import importlib
import sys

import typer

from edgeroam.errors import EdgeroamError

__all__ = ["app", "full_app", "main"]

app: typer.Typer  # the whole CLI, built by `full_app` when first asked for (see `__getattr__`)

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



def _print_version(value: bool) -> None:
    if value:
        from edgeroam import __version__

        typer.echo(__version__)
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """edgeroam command line."""


def _typer() -> typer.Typer:
    """The root app, no commands mounted yet."""
    root = typer.Typer(
        name="edgeroam",
        help="Mobility-aware edge-computing emulator: replay real GPS traces over hex Wi-Fi cells and "
        "migrate DNN layers between edge servers ahead of the user.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    root.callback()(_root)
    return root


@functools.cache
def full_app() -> typer.Typer:
    """The app with every area and top-level command (their modules imported on the first call)."""
    root = _typer()
    for name, module in _AREAS.items():
        root.add_typer(importlib.import_module(module).app, name=name)
    for module in _TOP_LEVEL:
        importlib.import_module(module).register(root)
    return root


def _app_for(argv: list[str]) -> typer.Typer:
    """The app that runs `argv`: only its area when it names one (``edgeroam datasets info`` imports the
    datasets commands alone, not torch or the emulator), else every command."""
    if argv and argv[0] in _AREAS:
        one = _typer()
        one.add_typer(importlib.import_module(_AREAS[argv[0]]).app, name=argv[0])
        return one
    return full_app()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status.

    Usage errors are reported by typer (exit 2); an EdgeroamError becomes one red line on stderr and exit 1.
    """
    try:
        run = _app_for(sys.argv[1:] if argv is None else list(argv))
        run(args=argv, prog_name="edgeroam", standalone_mode=True)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    except EdgeroamError as exc:
        from rich.console import Console  # imported when there is something to draw

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    finally:
        if argv is None:  # the process ends next: its final collection need not walk every object (0.1 s)
            gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
