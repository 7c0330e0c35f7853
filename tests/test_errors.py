"""edgeroam.errors: the one exception tree (as its docstring draws it) and messages that name where."""

from __future__ import annotations

import re

import pytest

import edgeroam.errors as errors
from edgeroam.errors import (
    DatasetError,
    EdgeroamError,
    NetError,
    NotFittedError,
    ProtocolError,
    RunError,
    ScenarioError,
    TopologyError,
    TraceFormatError,
)


def _drawn_tree() -> dict[str, str]:
    """Child -> parent as the module docstring draws it (indentation of the box-drawing lines)."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        m = re.match(r"^(\s*(?:[│ ]*[├└]── )?)([A-Z]\w+Error)\b", line)
        if not m:
            continue
        depth, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_docstring_draws_the_real_tree():
    drawn = _drawn_tree()
    assert set(drawn) | {"EdgeroamError"} == set(errors.__all__)
    for child, parent in drawn.items():
        cls = getattr(errors, child)
        edgeroam_bases = [b.__name__ for b in cls.__bases__ if issubclass(b, EdgeroamError)]
        assert edgeroam_bases == [parent], child


@pytest.mark.parametrize("cls", [DatasetError, TopologyError, NotFittedError])
def test_input_errors_are_also_value_errors(cls):
    assert issubclass(cls, ValueError) and issubclass(cls, EdgeroamError)


def test_not_fitted_is_also_an_attribute_error():
    # like scikit-learn's: hasattr()-style probes and `except AttributeError` keep working
    assert issubclass(NotFittedError, AttributeError)
    assert not issubclass(RunError, ValueError) and issubclass(NetError, RunError)


def test_trace_format_error_names_file_line_and_column():
    e = TraceFormatError("/data/u1.plt", "bad latitude", line=7, column="lat")
    assert str(e) == "/data/u1.plt, line 7, column lat: bad latitude"
    assert (e.path, e.line, e.column) == ("/data/u1.plt", 7, "lat")
    assert str(TraceFormatError("a.csv", "empty")) == "a.csv: empty"
    assert str(TraceFormatError("a.csv", "x", column="t")) == "a.csv, column t: x"
    assert str(TraceFormatError("a.csv", "x", line=0)) == "a.csv, line 0: x"  # line 0 is still a line


def test_scenario_error_names_file_and_key():
    e = ScenarioError("s.toml", "dataset.split.seed", "must be an int")
    assert str(e) == "s.toml: dataset.split.seed: must be an int"
    assert (e.path, e.key, e.message) == ("s.toml", "dataset.split.seed", "must be an int")
    assert str(ScenarioError(None, "paper", "unknown")) == "scenario: paper: unknown"
    assert str(ScenarioError("s.toml", None, "empty")) == "s.toml: empty"
    assert str(ScenarioError("s.toml", "", "empty")) == "s.toml: empty"


def test_protocol_error_names_peer_seq_and_reason():
    e = ProtocolError("replay", "seq went backwards", peer="srv3", seq=41)
    assert str(e) == "frame from srv3 seq 41: replay: seq went backwards"
    assert (e.reason, e.peer, e.seq) == ("replay", "srv3", 41)
    assert str(ProtocolError("oversize", "2 MB")) == "frame: oversize: 2 MB"
    assert str(ProtocolError("bad_mac", "x", seq=0)) == "frame seq 0: bad_mac: x"


def test_paths_are_stored_as_text(tmp_path):
    assert TraceFormatError(tmp_path / "a.plt", "x").path == str(tmp_path / "a.plt")
    assert ScenarioError(tmp_path / "s.toml", "k", "x").path == str(tmp_path / "s.toml")
