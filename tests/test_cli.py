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
