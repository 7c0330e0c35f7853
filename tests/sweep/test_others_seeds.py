"""The repeated-seed sections of the other papers: items with TARGETS ids, one table each, spreads."""

from __future__ import annotations

import pytest

from edgeroam.sweep.others_seeds import eosdnn_seeds, eosdnn_two_step, s0_seeds
from edgeroam.sweep.reproduce import Context, reproduce


def _table(res: dict, name: str) -> list[dict]:
    t = res["sections"][name]["tables"][name]
    return [dict(zip(t["columns"], r, strict=True)) for r in t["rows"]]


def test_s3_and_lmu_seed_tables(tmp_path):
    res = reproduce("s3", tmp_path, only=["s3-seeds"], progress=False)
    rows = _table(res, "s3-seeds")
    assert len(rows) == 6 * 2 * 4
    eo = [r for r in rows if r["method"] == "E-O"]
    co = [r for r in rows if r["method"] == "C-O"]
    assert all(r["min s"] <= r["mean s"] <= r["max s"] for r in rows)
    # every edge or uplink is slower than its frames arrive, so with the cloud serving in arrival order the
    # drawn rates do not move C-O, and S-Q is never slower than S-C
    assert all(r["sd s"] == 0 for r in co)
    mean = {(r["DNN"], r["net"], r["method"]): r["mean s"] for r in rows}
    assert all(mean[d, n, "S-Q"] <= mean[d, n, "S-C"] + 1e-9 for d, n, m in mean if m == "S-C")
    assert {r["DNN"] for r in eo} >= {"alexnet", "alexnet_parallel"}
    res = reproduce("eosdnn", tmp_path / "e", only=["eosdnn-lmu-seeds"], progress=False)
    items = {i["id"]: i for i in res["sections"]["eosdnn-lmu-seeds"]["items"]}
    assert items["E-H1"]["paper"] == -45.16 and items["E-H1"]["ours"] < 0
    assert [r["seed"] for r in _table(res, "eosdnn-lmu-seeds")][-2:] == ["mean", "sd"]


@pytest.mark.slow
def test_eosdnn_and_s0_seed_tables_quick(tmp_path):
    # `reproduce --quick` skips these sections (its rows would not be rows of the full tables): call them
    ctx = Context(out=tmp_path, quick=True, workers=1, scheduler=None, progress=False)
    tables = {}
    for fn in (eosdnn_seeds, eosdnn_two_step, s0_seeds):
        sec = fn(ctx)
        t = sec.tables[sec.name]
        tables[sec.name] = t.to_dict("records")
        if sec.name == "s0-seeds":
            assert {i.id for i in sec.items} == {"S0-F5"}
    seeds = tables["eosdnn-seeds"]
    assert {r["planner"] for r in seeds} == {"PSO-GA", "PSO-GA (no greedy seed)", "GA", "prePSO", "Greedy"}
    assert all(r["seeds"] == 2 and r["MD min s"] <= r["MD mean s"] <= r["MD max s"] for r in seeds)
    two = {r["plan"]: r for r in tables["eosdnn-two-step"]}
    assert two["two-step"]["MD max s"] <= two["step 1 (modules merged)"]["MD max s"] + 1e-9
