"""Property tests of the scenario loader and `--set` parsing: any input gives a Scenario or one ScenarioError.

Arbitrary dotted keys (known ones, unknown ones, empty parts, keys through values), arbitrary TOML values
(numbers with inf and nan, strings, booleans, dates, arrays, inline tables, bare words), arbitrary nesting
and arbitrary file bytes: never a pydantic, TOML, Unicode or Python traceback (issue 17, acceptance).
"""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from edgeroam.errors import ScenarioError
from edgeroam.scenario import Scenario, load_scenario, scenario_from_dict, scenario_to_toml

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "scenarios" / "demo.toml"
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _known_keys(model: type[BaseModel] = Scenario, prefix: str = "") -> list[str]:
    """Every dotted key of the scenario models (tables and leaves)."""
    out = []
    for name, field in model.model_fields.items():
        key = prefix + name
        out.append(key)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(_known_keys(ann, key + "."))
    return out


KNOWN = _known_keys()
_word = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=0, max_size=8)
_part = st.one_of(st.sampled_from(sorted({p for k in KNOWN for p in k.split(".")})), _word,
                  st.text(max_size=6))
keys = st.one_of(st.sampled_from(KNOWN), st.lists(_part, min_size=1, max_size=4).map(".".join),
                 st.sampled_from(KNOWN).flatmap(lambda k: _part.map(lambda p: f"{k}.{p}")))

_scalar = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(max_size=12), st.datetimes(min_value=dt.datetime(1, 1, 2)).map(lambda d: d),
    st.dates(), st.times(),
)
toml_values = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.sampled_from(KNOWN), _word), inner, max_size=3)),
    max_leaves=8,
)


def _toml_text(value: Any) -> str:
    """`value` as TOML value text (what a user types after ``=``)."""
    return tomli_w.dumps({"v": value}).partition("=")[2].strip() if not isinstance(value, dict) else \
        "{" + ", ".join(f"{_quote(k)} = {_toml_text(v)}" for k, v in value.items()) + "}"


def _quote(key: str) -> str:
    return tomli_w.dumps({key: 0}).partition("=")[0].strip()


_odd = ["inf", "-inf", "nan", "1e9", "1e309", "[", "{", '"', "=", "''", "0x1g", "\\u0000", "1979-05-27"]
set_values = st.one_of(toml_values.map(_toml_text), st.text(max_size=20), st.sampled_from(_odd))
overrides = st.lists(st.one_of(st.tuples(keys, set_values).map(lambda kv: f"{kv[0]}={kv[1]}"),
                               st.text(max_size=20)), max_size=4)


def _typed(call) -> Scenario | None:
    """Run `call`; a ScenarioError is the only failure allowed."""
    try:
        return call()
    except ScenarioError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return None


BASE = {"name": "prop", "dataset": {"kind": "synthetic"}}


@SETTINGS
@given(overrides)
def test_set_overrides_never_end_in_a_traceback(items):
    sc = _typed(lambda: scenario_from_dict(BASE, overrides=items))
    if sc is not None:  # a valid result survives a round trip through TOML
        assert isinstance(sc, Scenario)


@SETTINGS
@given(st.dictionaries(st.one_of(st.sampled_from(["name", "seed", "dataset", "topology", "dnn", "predictor",
                                                   "policy", "run", "description"]), _word),
                       toml_values, max_size=6),
       overrides)
def test_any_nested_scenario_file_loads_or_is_one_scenario_error(tmp_path_factory, data, items):
    path = tmp_path_factory.mktemp("sc") / "s.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    sc = _typed(lambda: load_scenario(path, items))
    if sc is not None:
        again = tmp_path_factory.mktemp("rt") / "again.toml"
        again.write_text(scenario_to_toml(sc), encoding="utf-8")
        assert load_scenario(again).model_dump(mode="json") == sc.model_dump(mode="json")


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_as_a_scenario_file_are_one_scenario_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("sc") / "bytes.toml"
    path.write_bytes(data)
    _typed(lambda: load_scenario(path))


@SETTINGS
@given(st.sampled_from(KNOWN), st.sampled_from(["inf", "-inf", "nan"]))
def test_non_finite_numbers_are_refused_naming_the_key(key, value):
    sc = _typed(lambda: scenario_from_dict(BASE, overrides=[f"{key}={value}"]))
    if sc is not None:  # accepted only where the key does not take a number at all (a string, a dict)
        got = sc.model_dump()
        for part in key.split("."):
            got = got[part]
        assert not isinstance(got, float), (key, got)


def test_demo_survives_every_known_key_set_to_its_own_value():
    sc = load_scenario(DEMO)
    dump = sc.model_dump(mode="json")
    for key in KNOWN:
        node = dump
        for part in key.split("."):
            node = node[part] if isinstance(node, dict) and part in node else None
        if node is None or isinstance(node, dict):
            continue
        assert load_scenario(DEMO, [f"{key}={_toml_text(node)}"]).model_dump() == sc.model_dump(), key
