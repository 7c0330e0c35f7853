"""The root CLI: help, version, and one red line for an EdgeroamError."""

from __future__ import annotations

from edgeroam import __version__
from edgeroam.cli import main


def test_help_lists_areas(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "datasets" in out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys):
    assert main(["no-such-command"]) == 2


def test_the_process_entry_freezes_the_heap_before_exit_and_a_call_with_arguments_does_not():
    # `edgeroam ...` (main() with no arguments) ends its process next: the final collection skips the heap
    import subprocess
    import sys

    code = ("import gc, sys; sys.argv = ['edgeroam', 'datasets', '--help']; from edgeroam.cli import main; "
            "main(['datasets', '--help']); before = gc.get_freeze_count(); main(); "
            "print(before, gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["0", "True"]


def test_every_help_text_prints_as_written():
    # typer renders help as rich markup, which silently drops a bracketed word such as "[grid]" unless it is
    # escaped ("\\[grid]")
    import typer
    from rich.text import Text

    from edgeroam.cli import app

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    lost = []
    for path, cmd in walk(typer.main.get_command(app), "edgeroam"):
        for name, text in [("help", cmd.help or "")] + [(p.name, getattr(p, "help", None) or "")
                                                         for p in cmd.params]:
            if Text.from_markup(text).plain != text.replace("\\[", "["):
                lost.append(f"{path} {name}: {text!r}")
    assert not lost
