"""Run policy variants on the test users, or on validation folds of the train users (beat-the-paper.md).

    python docs/reproductions/beat_the_paper.py geolife --folds 3 perdnn rank:0.11:5:300 prob:0.1
    python docs/reproductions/beat_the_paper.py geolife perdnn rank:0.11:5:300
    python docs/reproductions/beat_the_paper.py geolife --set policy.ttl_intervals=0 perdnn

A policy is a registry name (``perdnn``, ``perdnn-forward-top3`` …), ``rank:<tau>:<k_max>:<keep_m>``
(``perdnn-rank`` with those parameters) or ``prob:<tau>`` (``perdnn-prob``, the tau rule), each with the
scenario's other ``[policy]`` parameters. With ``--folds K`` the
train users are shuffled (seed 11) and dealt into K folds; each fold is replayed with the predictor (and
any learned policy) fitted on the other train users, and the counts are summed over the folds. The test
users are never touched then. ``--set key=value`` overrides the scenario as `edgeroam run --set` does. One
JSON line per policy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from edgeroam._rng import as_generator
from edgeroam.emulator.master import run_pass
from edgeroam.emulator.policies import policy_from_scenario
from edgeroam.emulator.prepare import prepare
from edgeroam.scenario import load_scenario
from edgeroam.world import load_world


def make(spec: str, sc):
    """A policy from its command-line spec, with the scenario's ``[policy]`` parameters."""
    kind, *args = spec.split(":")
    if kind == "rank":
        tau, k_max, keep = args
        return policy_from_scenario(sc, "perdnn-rank").set_params(tau=float(tau), k_max=int(k_max),
                                                                   keep_m=float(keep))
    if kind == "prob":
        return policy_from_scenario(sc, "perdnn-prob").set_params(tau=float(args[0]))
    return policy_from_scenario(sc, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["geolife", "kaist"])
    ap.add_argument("policies", nargs="+")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="scenario override (repeatable)")
    ap.add_argument("--folds", type=int, default=0,
                    help="validation folds of the train users (0: the test users)")
    a = ap.parse_args()
    sc = load_scenario(f"scenarios/perdnn-{a.dataset}.toml", a.overrides)
    world = load_world(sc)
    if a.folds:
        users = sorted(world.train_users)
        as_generator(11).shuffle(users)
        worlds = [dataclasses.replace(world, train_users=sorted(set(users) - set(users[k::a.folds])),
                                      test_users=sorted(users[k::a.folds])) for k in range(a.folds)]
    else:
        worlds = [world]
    totals: dict[str, dict[str, float]] = {}
    plan_bytes = 0
    for w in worlds:
        prep = prepare(sc, world=w)
        plan_bytes = prep.planner.entry(1).bytes
        for spec in a.policies:
            t = time.perf_counter()
            s = run_pass(prep, make(spec, sc)).summary
            row = totals.setdefault(spec, {"hits": 0, "misses": 0, "partial": 0, "changes": 0, "bytes": 0.0,
                                           "queries": 0, "mean_held": 0.0, "peak_server": 0.0,
                                           "pass_s": 0.0})
            row["hits"] += s["hits"]
            row["misses"] += s["misses"]
            row["partial"] += s["partial_hits"]
            row["changes"] += s["cold_starts"]
            row["bytes"] += s["backhaul"]["migrated_bytes"]
            row["queries"] += s["executed_queries"]
            row["mean_held"] += (s["memory"] or {}).get("mean_held", 0.0)
            row["peak_server"] = max(row["peak_server"], (s["memory"] or {}).get("peak_held_per_server", 0.0))
            row["pass_s"] += time.perf_counter() - t
    for spec, r in totals.items():
        print(json.dumps({
            "dataset": a.dataset, "users": f"{a.folds} folds of train" if a.folds else "test", "policy": spec,
            "hit_ratio": round(r["hits"] / max(r["hits"] + r["misses"], 1), 4), "hits": r["hits"],
            "partial": r["partial"], "misses": r["misses"], "migrated_GB": round(r["bytes"] / 1e9, 1),
            "plans_per_change": round(r["bytes"] / plan_bytes / max(r["changes"], 1), 3),
            "executed_queries": r["queries"], "mean_held_plans": round(r["mean_held"], 1),
            "peak_plans_per_server": r["peak_server"], "set": a.overrides,
            "pass_s": round(r["pass_s"], 1),
        }), flush=True)


if __name__ == "__main__":
    main()
