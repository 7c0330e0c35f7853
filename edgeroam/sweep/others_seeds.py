"""`reproduce` sections that repeat the other papers' setups over seeds: mean ± spread instead of one draw.

What a seed changes: EosDNN and S0, the compute drawn in the paper's GHz ranges and every planner's
randomness; LMU (EosDNN Fig. 13), the client and edge speeds drawn in those ranges; S3, each edge's frame
rate drawn in the paper's 5-15 fps. Each section returns items (TARGETS ids, the paper's number beside our
mean) and one table for the generated block of its page (eosdnn.md, s3.md, s0.md). S3 and the LMU draws are
cheap and run in full; `reproduce --quick` skips the EosDNN and S0 sections, whose ``quick`` (two seeds, 30
iterations, fewer models: for tests) gives other rows than the full tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from edgeroam.sweep.reproduce import Item, Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.reproduce import Context

__all__ = ["SEEDS", "eosdnn_lmu_seeds", "eosdnn_seeds", "eosdnn_two_step", "s0_seeds", "s3_seeds"]

#: seeds of every repeated setup
SEEDS = (0, 1, 2, 3, 4)
#: PSO-GA / prePSO iterations and GA generations of the repeated EosDNN runs (the single-seed page uses 600)
ITERATIONS = 100


def _budget(ctx: Context) -> tuple[tuple[int, ...], int]:
    """Seeds and PSO-GA iterations of a run."""
    return (SEEDS[:2], 30) if ctx.quick else (SEEDS, ITERATIONS)


def _stats(v: list[float] | np.ndarray) -> dict[str, float]:
    a = np.asarray(v, dtype=np.float64)
    return {"mean": round(float(a.mean()), 4), "sd": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 4),
            "min": round(float(a.min()), 4), "max": round(float(a.max()), 4)}


def eosdnn_seeds(ctx: Context) -> Section:
    """EosDNN Fig. 16 (E-F16, E-H3) over seeds: MD of PSO-GA (with and without the greedy seed), GA, prePSO
    and Greedy, 12 tasks per model, 4 clients, 5 edges, 5 clouds."""
    from edgeroam.emulator.planning import eosdnn as eos

    seeds, it = _budget(ctx)
    sec = Section("eosdnn-seeds", f"EosDNN Fig. 16 over {len(seeds)} seeds ({it} iterations)",
                  "edgeroam reproduce eosdnn --only eosdnn-seeds")
    models = {"AlexNet": "alexnet"} if ctx.quick else {"AlexNet": "alexnet", "VGG": "vgg19"}
    rows = []
    for paper, name in models.items():
        md: dict[str, list[float]] = {}
        for seed in seeds:
            env = eos.eosdnn_environment(4, 5, 5, seed=seed)
            wl = eos.make_workload(env, [name] * 12)
            kw = {"iterations": it, "seed": seed, "ga_generations": max(1, it // 6)}
            init = eos.cut_swarm(wl, 100, seed)
            res = {"PSO-GA": eos.pso_ga(env, wl, **kw).md,
                   "PSO-GA (no greedy seed)": eos.pso_ga(env, wl, start="cut", **kw).md,
                   "GA": eos.genetic(env, wl, generations=it, init=init, seed=seed).md,
                   "prePSO": eos.pre_pso(env, wl, iterations=it, seed=seed).md,
                   "Greedy": eos.greedy(env, wl).md}
            for k, v in res.items():
                md.setdefault(k, []).append(v)
        four = np.array([md[k] for k in ("PSO-GA", "GA", "prePSO", "Greedy")])
        wins = int((four[0] <= four.min(0) + 1e-9).sum())
        for k, v in md.items():
            rows.append({"model": paper, "planner": k, "seeds": len(seeds), **{f"MD {s} s": x for s, x in
                                                                               _stats(v).items()}})
        sec.items.append(Item("E-H3", f"{paper}: seeds where PSO-GA has the lowest MD of four "
                              f"(of {len(seeds)})", float(len(seeds)), float(wins), "",
                              "with the greedy plan in the GA seed"))
        nog = np.array(md["PSO-GA (no greedy seed)"]) / np.array(md["Greedy"])
        sec.items.append(Item("E-F16", f"{paper}: PSO-GA without the greedy seed / Greedy, mean over seeds",
                              None, round(float(nog.mean()), 3), "", "paper: PSO-GA lowest"))
    sec.tables["eosdnn-seeds"] = pd.DataFrame(rows)
    return sec


def eosdnn_lmu_seeds(ctx: Context) -> Section:
    """EosDNN Fig. 13 (E-H1, E-H2) over seeds: client and edge speeds drawn in the paper's GHz ranges."""
    from edgeroam.emulator.dnn.devices import Device
    from edgeroam.emulator.planning.lmu import (
        from_groups,
        lmu_schedule,
        model_upload_problem,
        sd_area,
        sd_timeline,
        ssd,
    )
    from edgeroam.emulator.planning.upload import direct_order, ionn_order

    sec = Section("eosdnn-lmu-seeds", "EosDNN Fig. 13 over drawn client / edge speeds (AlexNet)",
                  "edgeroam reproduce eosdnn --only eosdnn-lmu-seeds")
    seeds = range(10)
    rows, h1, h2 = [], [], []
    for seed in seeds:
        c_ghz, e_ghz = np.random.default_rng(seed).uniform([1.1, 4.2], [2.3, 18.3])
        dev = [Device(f"c{c_ghz:.2f}", "", c_ghz * 1e9, c_ghz * 1e9, c_ghz * 1e9, float("inf"), 0.0, 1.0),
               Device(f"e{e_ghz:.2f}", "", e_ghz * 1e9, e_ghz * 1e9, e_ghz * 1e9, float("inf"), 0.0, 1.0)]
        up, prob2 = model_upload_problem("alexnet", client=dev[0], server=dev[1])
        sch = {"lmu": lmu_schedule(up),
               "non": from_groups(up, direct_order(prob2, target=up.offloaded).groups, "direct"),
               "ionn": from_groups(up, ionn_order(prob2).groups, "ionn")}
        h = max(float(sd_timeline(up, s)["start"].iat[-1]) for s in sch.values())
        v = {k: ssd(up, s, h) for k, s in sch.items()}
        win = {k: sd_area(up, s, 0.23447, 0.57212) + sd_area(up, s, 17.38056, 23.78212)
               for k, s in sch.items()}
        h1.append(100 * (v["lmu"] / v["non"] - 1))
        h2.append(100 * (win["lmu"] / win["ionn"] - 1))
        rows.append({"seed": seed, "client GHz": round(float(c_ghz), 2), "edge GHz": round(float(e_ghz), 2),
                     "LMU vs Non-uploading %": round(h1[-1], 2), "LMU vs IONN (windows) %": round(h2[-1], 2)})
    for what, v in (("mean", np.mean), ("sd", lambda a: np.std(a, ddof=1))):
        rows.append({"seed": what, "client GHz": None, "edge GHz": None,
                     "LMU vs Non-uploading %": round(float(v(h1)), 2),
                     "LMU vs IONN (windows) %": round(float(v(h2)), 2)})
    sec.items.append(Item("E-H1", "AlexNet: LMU SSD change vs non-uploading, mean of 10 speed draws", -45.16,
                          round(float(np.mean(h1)), 2), "%", f"sd {np.std(h1, ddof=1):.1f}"))
    sec.items.append(Item("E-H2", "AlexNet: LMU SSD change vs IONN in the two windows, mean of 10 draws",
                          -13.41, round(float(np.mean(h2)), 2), "%", f"sd {np.std(h2, ddof=1):.1f}"))
    sec.tables["eosdnn-lmu-seeds"] = pd.DataFrame(rows)
    return sec


def eosdnn_two_step(ctx: Context) -> Section:
    """EosDNN §V.A: two-step migration of inception / residual modules against one-step PSO-GA on the
    linearised DAG, 12 tasks, over seeds."""
    from edgeroam.emulator.planning import eosdnn as eos
    from edgeroam.emulator.planning.twostep import two_step

    seeds, it = _budget(ctx)
    sec = Section("eosdnn-two-step", f"EosDNN two-step migration over {len(seeds)} seeds ({it} iterations)",
                  "edgeroam reproduce eosdnn --only eosdnn-two-step")
    models = {"GoogleNet": "googlenet"} if ctx.quick else {"GoogleNet": "googlenet", "ResNet": "resnet101"}
    rows = []
    for paper, name in models.items():
        one, step1, two = [], [], []
        for seed in seeds:
            env = eos.eosdnn_environment(4, 5, 5, seed=seed)
            kw = {"iterations": it, "ga_generations": it // 6, "seed": seed}
            one.append(eos.pso_ga(env, eos.make_workload(env, [name] * 12), **kw).md)
            res = two_step(env, [name] * 12, **kw)
            step1.append(res.step1.md)
            two.append(res.md)
        for k, v in (("one-step PSO-GA (linearised DAG)", one), ("step 1 (modules merged)", step1),
                     ("two-step", two)):
            rows.append({"model": paper, "plan": k, "seeds": len(seeds), **{f"MD {s} s": x for s, x in
                                                                            _stats(v).items()}})
        change = 100 * (np.array(two) / np.array(one) - 1)
        sec.items.append(Item("E-H3", f"{paper}: two-step MD change vs one-step PSO-GA, mean over seeds",
                              None, round(float(change.mean()), 2), "%",
                              f"sd {np.std(change, ddof=1):.1f}; paper: two-step preprocessing helps"))
    sec.tables["eosdnn-two-step"] = pd.DataFrame(rows)
    return sec


def s3_seeds(ctx: Context) -> Section:
    """S3 Table 1 over seeds: each edge's frame rate drawn in 5-15 fps (S3 §5.1); mean ± spread of the
    makespan of every model, method and network."""
    from edgeroam.emulator.planning.scheduling import BANDWIDTHS, METHODS, model_cut_table, simulate
    from edgeroam.sweep.others import S3_PAPER

    sec = Section("s3-seeds", "S3 Table 1 with 5-15 fps drawn per edge (10 seeds)",
                  "edgeroam reproduce s3 --only s3-seeds")
    seeds = range(10)
    short = {"cloud": "C-O", "edge": "E-O", "single": "S-C", "queue": "S-Q"}
    rows = []
    for name, (tid, *paper) in S3_PAPER.items():
        for j, net in enumerate(("3G", "4G")):
            t = model_cut_table(name, BANDWIDTHS[net])
            ms = {m: [simulate(t, m, fps=np.random.default_rng(s).uniform(5, 15, 5)).makespan for s in seeds]
                  for m in METHODS}
            order = int(sum(q <= c + 1e-9 for q, c in zip(ms["queue"], ms["single"], strict=True)))
            for k, m in enumerate(("cloud", "edge", "single", "queue")):
                st = _stats(ms[m])
                rows.append({"DNN": name, "net": net, "method": short[m], "paper s": paper[4 * j + k],
                             "mean s": round(st["mean"], 2), "sd s": round(st["sd"], 2),
                             "min s": round(st["min"], 2), "max s": round(st["max"], 2)})
            sec.items.append(Item(tid, f"{name} {net}: seeds with S-Q <= S-C (of 10)", 10.0, float(order)))
    sec.tables["s3-seeds"] = pd.DataFrame(rows)
    return sec


def s0_seeds(ctx: Context) -> Section:
    """S0 Fig. 5 (S0-F5) over seeds: Direct, IONN and Recursive Efficiency after a PSO placement."""
    from edgeroam.sweep.others import s0_orders

    seeds, it = _budget(ctx)
    sec = Section("s0-seeds", f"S0 Fig. 5 over {len(seeds)} seeds",
                  "edgeroam reproduce eosdnn --only s0-seeds")
    rows = []
    for paper, name in (("AlexNet", "alexnet"), ("VGG", "vgg19")):
        v: dict[str, list[float]] = {}
        holds, used = 0, 0
        for seed in seeds:
            got, _ = s0_orders(name, seed, it)
            if got is None:  # upload.py's orders take one server
                continue
            for k, x in got.items():
                v.setdefault(k, []).append(x)
            used += 1
            holds += got["Direct"] > max(got["IONN"], got["Recursive"]) and got["Recursive"] < got["IONN"]
        for k, x in v.items():
            rows.append({"model": paper, "order": k, "seeds used": used, **{f"SSD {s} s²": y for s, y in
                                                                            _stats(x).items()}})
        sec.items.append(Item("S0-F5", f"{paper}: seeds where Direct is highest and Recursive < IONN "
                                       f"(of {used} one-server placements)", float(used), float(holds)))
    sec.tables["s0-seeds"] = pd.DataFrame(rows)
    return sec
