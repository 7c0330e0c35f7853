"""`edgeroam dnn info/profile` through the sub-app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from edgeroam.commands.dnn import app


def test_info_json_for_the_perdnn_models():
    for model, layers in (("inception", 312), ("resnet", 245)):
        r = CliRunner().invoke(app, ["info", model, "--json"])
        assert r.exit_code == 0, r.output
        d = json.loads(r.output)
        assert d["caffe_layers"]["total"] == layers == d["paper"]["layers"]


def test_info_table_and_unknown_model():
    r = CliRunner().invoke(app, ["info", "mobilenet"], terminal_width=160)
    assert r.exit_code == 0 and "PerDNN Table I" in r.output and "110" in r.output
    r = CliRunner().invoke(app, ["info", "lenet"])
    assert r.exit_code != 0 and "unknown model" in str(r.exception)


def test_profile_json_preset():
    r = CliRunner().invoke(app, ["profile", "alexnet", "--device", "titan-x", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert len(d["layers"]) == 24 and abs(d["total_s"] - 3.1e-3) < 0.5e-3
