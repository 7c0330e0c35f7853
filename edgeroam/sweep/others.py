"""`reproduce` sections of the other papers: EosDNN (toy, models, LMU, migration), S3 (Table 1), S0.

Each function takes the shared `Context` and returns a `Section` whose items carry TARGETS ids, the paper's
number (None where the paper gives only a statement) and ours, with the reading in the note. The tables
live in the full write-ups, docs/reproductions/eosdnn.md, s3.md and s0.md, which their scripts generate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from edgeroam.sweep.reproduce import Item, Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.reproduce import Context

DOC = "python docs/reproductions/eosdnn.py"

__all__ = ["eosdnn_engine", "eosdnn_lmu", "eosdnn_migration", "eosdnn_models", "eosdnn_toy",
           "others_mobility", "s0_fig5", "s3_table1"]

S3_PAPER = {  # TARGETS S3-T1: model -> (id, 3G C-O, E-O, S-C, S-Q, 4G C-O, E-O, S-C, S-Q)
    "alexnet": ("S3-T1a", 78.3, 88.9, 43.7, 43.7, 28.6, 88.9, 27.1, 24.7),
    "tiny_yolo": ("S3-T1b", 200.8, 159.7, 59.9, 59.9, 84.2, 159.7, 58.6, 58.6),
    "darknet19": ("S3-T1c", 77.8, 180.4, 54.6, 54.6, 34.9, 180.4, 34.9, 32.6),
    "alexnet_parallel": ("S3-T1d", 70.2, 44.9, 40.6, None, 27.9, 44.9, 27.9, None),
    "resnet18": ("S3-T1e", 84.3, 81.7, 32.0, None, 34.4, 81.7, 25.5, None),
    "googlenet": ("S3-T1f", 91.2, 121.1, 63.3, None, 43.2, 121.1, 43.2, None),
}


def eosdnn_toy(ctx: Context) -> Section:
    """EosDNN Tables II-III: the four-layer toy, SD steps, SSD 2359 / 2203, ELDA steps, LMU's order."""
    from edgeroam.emulator.planning.lmu import eosdnn_toy as toy
    from edgeroam.emulator.planning.lmu import from_groups, lmu_schedule, sd_batch, sd_timeline, ssd

    sec = Section("eosdnn-toy", "EosDNN Tables II-III: upload-order toy", DOC)
    p = toy()
    plans = {"A": ([3, 2, 0, 1], [63, 55, 44, 40, 21], 2359), "B": ([2, 1, 0, 3], [63, 54, 39, 31, 21], 2203)}
    for label, (order, sd_paper, ssd_paper) in plans.items():
        s = from_groups(p, [[i] for i in order], label)
        tl = sd_timeline(p, s)
        row = "c" if label == "A" else "f"
        for k, (a, b) in enumerate(zip(sd_paper, tl["sd"], strict=True)):
            sec.items.append(Item(f"E-T2{row}", f"Plan {label}: SD step {k + 1}", a, float(b)))
        sec.items.append(Item("E-T2g" if label == "A" else "E-T2h", f"Plan {label}: SSD to t = 50",
                              ssd_paper, ssd(p, s, 50)))
        sec.items.append(Item("E-T2i", f"Plan {label}: SSD without the End segment",
                              2233 if label == "A" else 2077, ssd(p, s)))
    lmu = lmu_schedule(p)
    sec.items.append(Item("E-T2d", "LMU order equals Plan B (C, B, A, D) [1 = yes]", 1.0,
                          float(lmu.order == [[2], [1], [0], [3]])))
    sec.items.append(Item("E-H5", "SSD(Plan B) < SSD(Plan A) [1 = yes]", 1.0,
                          float(ssd(p, lmu, 50) < ssd(p, from_groups(p, [[3], [2], [0], [1]], "A"), 50))))
    held = np.zeros(4, dtype=bool)
    paper = [[0.67, 0.60, 0.90, 0.62], [0.67, 1.00, None, 0.77], [1.33, None, None, 0.77]]
    for step, (pick, vals) in enumerate(zip([2, 1, 0], paper, strict=True)):
        base = float(sd_batch(p, held))
        for i, v in enumerate(vals):
            if v is None:
                continue
            m = held.copy()
            m[i] = True
            elda = (base - float(sd_batch(p, m))) / p.upload_s[i]
            sec.items.append(Item(f"E-T3{'abc'[step]}", f"step {step + 1}: ELDA of {'ABCD'[i]}", v,
                                  round(elda, 2)))
        held[pick] = True
    return sec


def eosdnn_models(ctx: Context) -> Section:
    """EosDNN Tables IV-VI: our zoo's AlexNet / VGG-19 / GoogLeNet / ResNet-101 beside the printed sizes."""
    from edgeroam.emulator.dnn.zoo import model_graph

    sec = Section("eosdnn-models", "EosDNN Tables IV-VI: models", "edgeroam dnn info MODEL --json")
    table4 = {"alexnet": ("E-T4a", 62.1, 237), "googlenet": ("E-T4b", 7.1, 27),
              "vgg19": ("E-T4c", 143.7, 548), "resnet101": ("E-T4d", 44.6, 170)}
    for name, (tid, params, mb) in table4.items():
        g = model_graph(name)
        ours_p, ours_mb = g.total_weight_bytes / 4 / 1e6, g.total_weight_bytes / 2**20
        sec.items.append(Item(tid, f"{name}: parameters (M)", params, round(ours_p, 1), "M"))
        sec.items.append(Item(tid, f"{name}: size (MB = MiB)", mb, round(ours_mb, 1), "MiB"))
    sizes = {"alexnet": ("E-T5", [0.133300781, 2.344726563, 3.376464844, 5.063964844, 3.375976563, 144.015625,
                                  64.015625, 15.6288147])}
    for name, (tid, paper) in sizes.items():
        w = model_graph(name).layers["weight_bytes"].to_numpy() / 2**20
        w = w[w > 0]
        sec.items.append(Item(tid, f"{name}: largest abs(layer size - Table V) (MB)", 0.0,
                              float(np.abs(w - np.array(paper)).max()), "MiB", "weighted layers, in order"))
    vgg = model_graph("vgg19").layers["weight_bytes"].to_numpy()
    sec.items.append(Item("E-T6", "vgg19: sum of layer sizes (MB)", 548.047, round(vgg.sum() / 2**20, 3),
                          "MiB"))
    return sec


def eosdnn_lmu(ctx: Context) -> Section:
    """EosDNN Figs. 12-14: LMU's SSD against Non-uploading, IONN, Recursive-efficiency; largest partition."""
    from edgeroam.emulator.planning.lmu import (
        from_groups,
        largest_partition_ratio,
        lmu_schedule,
        model_upload_problem,
        sd_area,
        sd_timeline,
        ssd,
    )
    from edgeroam.emulator.planning.upload import direct_order, ionn_order, recursive_order

    sec = Section("eosdnn-lmu", "EosDNN Figs. 12-14: Layer Merge Uploading", DOC)
    for paper, name in (("AlexNet", "alexnet"), ("VGG", "vgg19")):
        up, prob2 = model_upload_problem(name)
        sch = {"lmu": lmu_schedule(up), "non-uploading": from_groups(up, direct_order(
            prob2, target=up.offloaded).groups, "d"), "ionn": from_groups(up, ionn_order(prob2).groups, "i"),
            "recursive": from_groups(up, recursive_order(prob2, target=up.offloaded).groups, "r")}
        h = max(float(sd_timeline(up, s)["start"].iat[-1]) for s in sch.values())
        v = {k: ssd(up, s, h) for k, s in sch.items()}
        f = "13" if paper == "AlexNet" else "14"
        if paper == "AlexNet":
            sec.items.append(Item("E-H1", "AlexNet: LMU SSD change vs non-uploading", -45.16,
                                  round(100 * (v["lmu"] / v["non-uploading"] - 1), 2), "%",
                                  "gap follows the client/edge speed ratio (eosdnn.md sweep)"))
            win = {k: sd_area(up, s, 0.23447, 0.57212) + sd_area(up, s, 17.38056, 23.78212)
                   for k, s in sch.items()}
            sec.items.append(Item("E-H2", "AlexNet: LMU SSD change vs IONN in the two windows", -13.41,
                                  round(100 * (win["lmu"] / win["ionn"] - 1), 2), "%"))
        sec.items.append(Item(f"E-F{f}a", f"{paper}: LMU SSD below non-uploading [1 = yes]", 1.0,
                              float(v["lmu"] < v["non-uploading"])))
        sec.items.append(Item(f"E-F{f}b", f"{paper}: LMU SSD below IONN [1 = yes]", 1.0,
                              float(v["lmu"] < v["ionn"])))
        sec.items.append(Item(f"E-F{f}c", f"{paper}: LMU SSD / recursive-efficiency SSD", None,
                              round(v["lmu"] / v["recursive"], 4), "", "paper: 'similar' (AlexNet)"))
        sec.items.append(Item("E-F12", f"{paper}: largest partition LMU / IONN", None,
                              round(largest_partition_ratio(up, sch["lmu"]) / largest_partition_ratio(
                                  up, sch["ionn"]), 3), "", "paper: LMU reduces it"))
    return sec


def eosdnn_migration(ctx: Context) -> Section:
    """EosDNN Figs. 15-18: MD of PSO-GA, GA, prePSO, Greedy; tiers; tasks; clients (quick: 30 iterations)."""
    from edgeroam.emulator.planning import eosdnn as eos

    it = 30 if ctx.quick else 600
    sec = Section("eosdnn-migration", f"EosDNN Figs. 15-18: migration delay ({it} iterations)",
                  "python docs/reproductions/eosdnn.py")
    env = eos.eosdnn_environment(4, 5, 5, seed=0)
    models = ["alexnet", "vgg19"] if ctx.quick else ["alexnet", "vgg19", "googlenet", "resnet101"]
    for name in models:
        md = {}
        for tiers in ("LE", "LC", "LEC"):
            wl = eos.make_workload(env, [name] * 12, tiers=tiers)
            md[tiers] = eos.pso_ga(env, wl, iterations=it, ga_generations=max(1, it // 6), seed=0).md
        wl = eos.make_workload(env, [name] * 12)
        res = {"pso-ga": md["LEC"], "ga": eos.genetic(env, wl, generations=it, init=eos.cut_swarm(wl, 100, 0),
                                                       seed=0).md,
               "prepso": eos.pre_pso(env, wl, iterations=it, seed=0).md, "greedy": eos.greedy(env, wl).md}
        sec.items.append(Item("E-H4", f"{name}: MD L-E-C <= min(L-E, L-C) [1 = yes]", 1.0,
                              float(md["LEC"] <= min(md["LE"], md["LC"]) + 1e-9), "", "L-E-C = L-E here"))
        sec.items.append(Item("E-H3", f"{name}: PSO-GA MD lowest of four [1 = yes]", 1.0,
                              float(res["pso-ga"] <= min(res.values()) + 1e-9), "",
                              "with the greedy plan in PSO-GA's GA seed"))
    tasks = [4, 8, 12, 16]
    md_t = [eos.pso_ga(env, eos.make_workload(env, ["alexnet"] * n), iterations=it,
                       ga_generations=max(1, it // 6), seed=0).md for n in tasks]
    slope, icpt = np.polyfit(tasks, md_t, 1)
    y = np.array(md_t)
    r2 = 1 - ((y - (slope * np.array(tasks) + icpt)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    sec.items.append(Item("E-F17", "PSO-GA MD vs tasks: R² of a line", None, round(float(r2), 3), "",
                          "paper: MD increases linearly"))
    md_c = []
    for n in (1, 2, 4):
        e = eos.eosdnn_environment(n, 5, 5, seed=0)
        md_c.append(eos.pso_ga(e, eos.make_workload(e, ["alexnet"] * 12), iterations=it,
                               ga_generations=max(1, it // 6), seed=0).md)
    sec.items.append(Item("E-F18", "PSO-GA MD with 4 clients / with 1", None, round(md_c[-1] / md_c[0], 3),
                          "", "paper: MD decreases as clients increase"))
    return sec


def s3_table1(ctx: Context) -> Section:
    """S3 Table 1 (6 models x 4 methods x 3G/4G; AlexNet-Parallel read as the two-tower AlexNet) and the
    bandwidth trend of Figs. 6-7."""
    from edgeroam.emulator.planning.scheduling import BANDWIDTHS, METHODS, model_cut_table, simulate

    sec = Section("s3-table1", "S3 Table 1: total inference delay (s)", "python docs/reproductions/s3.py")
    for name, (tid, *paper) in S3_PAPER.items():
        for j, net in enumerate(("3G", "4G")):
            t = model_cut_table(name, BANDWIDTHS[net])
            ms = {m: simulate(t, m).makespan for m in METHODS}
            for k, m in enumerate(("cloud", "edge", "single", "queue")):
                v = paper[4 * j + k]
                sec.items.append(Item(tid, f"{name} {net} {m}", v, round(ms[m], 1), "s",
                                      "" if v is not None else "paper: S-Q only for chains"))
    for tid, name in (("S3-F6", "alexnet"), ("S3-F7", "resnet18")):
        ok = 0
        for mbps in (2, 3, 4, 5, 6, 7):
            t = model_cut_table(name, mbps * 1e6)
            ms = {m: simulate(t, m).makespan for m in METHODS}
            ok += ms["queue"] <= ms["single"] + 1e-9 <= min(ms["edge"], ms["cloud"]) + 2e-9
        sec.items.append(Item(tid, f"{name}: S-Q <= S-C <= best single tier at 2-7 Mbit/s (of 6)", 6.0,
                              float(ok)))
    return sec


def s0_orders(name: str, seed: int, iterations: int) -> tuple[dict[str, float] | None, int]:
    """SSD of S0's three upload orders (Direct, IONN, Recursive Efficiency) for two `name` tasks placed by
    PSO-GA on EosDNN's environment (2 clients, 5 edges, 5 clouds; `seed`), and the number of servers the
    placement uses; None instead of the SSDs when it uses several (the orders take one server)."""
    from edgeroam.emulator.dnn.zoo import model_graph
    from edgeroam.emulator.planning import eosdnn as eos
    from edgeroam.emulator.planning.lmu import (
        from_groups,
        placement_upload_problem,
        sd_timeline,
        server_groups,
        ssd,
    )
    from edgeroam.emulator.planning.partition import PlanProblem
    from edgeroam.emulator.planning.upload import ionn_order, recursive_order

    env = eos.eosdnn_environment(2, 5, 5, seed=seed)
    wl = eos.make_workload(env, [name, name])
    plan = eos.pso_ga(env, wl, iterations=iterations, seed=seed).plan
    up = placement_upload_problem(env, wl, plan, 0)
    servers = np.unique(up.node[up.offloaded])
    if len(servers) != 1:
        return None, len(servers)
    s = int(servers[0])
    bps = float(env.bw[up.client, s]) * 8
    pos = np.flatnonzero(wl.task == 0)
    pos = pos[np.argsort(wl.layer[pos])]
    prob = PlanProblem(model_graph(name), up.local_s, wl.cycles[pos] / env.hz[s], up_bps=bps, down_bps=bps)
    sch = {"Direct": server_groups(up), "IONN": from_groups(up, ionn_order(prob).groups, "i"),
           "Recursive": from_groups(up, recursive_order(prob, target=up.offloaded).groups, "r")}
    h = max(float(sd_timeline(up, x)["start"].iat[-1]) for x in sch.values())
    return {k: ssd(up, x, h) for k, x in sch.items()}, 1


def s0_fig5(ctx: Context) -> Section:
    """S0 Fig. 5: Direct, IONN, Recursive Efficiency after a PSO placement (2 clients, 5 edges, 5 clouds)."""
    sec = Section("s0-fig5", "S0 Fig. 5: upload orders after a PSO placement",
                  "python docs/reproductions/s0.py")
    for name in ("alexnet", "vgg19"):
        v, n_servers = s0_orders(name, 0, 30 if ctx.quick else 600)
        if v is None:
            sec.items.append(Item("S0-F5", f"{name}: placement uses {n_servers} servers", None, None))
            continue
        sec.items.append(Item("S0-F5", f"{name}: Direct highest, Recursive < IONN [1 = yes]", 1.0,
                              float(v["Direct"] > max(v["IONN"], v["Recursive"])
                                    and v["Recursive"] < v["IONN"])))
    return sec

def others_mobility(ctx: Context) -> Section:
    """EosDNN's LMU order and S3's cut as mobility policies beside PerDNN and IONN on the same traces."""
    sec = Section("others-mobility", "LMU and S3 as mobility policies (KAIST; quick: demo)",
                  "edgeroam run perdnn-kaist --policy lmu|s3|... --model M")
    kinds = ["perdnn", "ionn", "lmu", "perdnn-lmu", "s3", "s3-single", "perdnn-s3"]
    scen, models = ("demo", ["inception"]) if ctx.quick else ("perdnn-kaist", ["inception", "resnet"])
    t = ctx.sweep(f"others-mobility-{scen}", {"scenario": scen, "grid": {"dnn.model": models,
                                                                          "policy.kind": kinds}})
    rows = []
    for r in t.to_dict("records"):
        rows.append({"scenario": scen, "model": r["dnn.model"], "policy": r["policy.kind"],
                     "executed queries": int(r["executed_queries"]),
                     "hit ratio %": round(100 * r["hit_ratio"], 1),
                     "migrated GB": round(r["backhaul.migrated_bytes"] / 1e9, 2),
                     "uploaded GB": round(r["backhaul.uploaded_bytes"] / 1e9, 2)})
    sec.tables["others-mobility"] = pd.DataFrame(rows)
    return sec


def eosdnn_engine(ctx: Context) -> Section:
    """EosDNN's delay model against the same plans run on the sim engine (both: slots in arrival order)."""
    from edgeroam.emulator.planning import eosdnn as eos
    from edgeroam.emulator.sim.tasks import execute_plan

    sec = Section("eosdnn-engine", "EosDNN plans: delay model vs the sim engine (12 AlexNet tasks)",
                  "edgeroam reproduce eosdnn --only eosdnn-engine")
    rows = []
    for seed in range(2 if ctx.quick else 5):
        env = eos.eosdnn_environment(4, 5, 5, seed=seed)
        wl = eos.make_workload(env, ["alexnet"] * 12)
        plans = {"Greedy": eos.greedy(env, wl).plan,
                 "PSO-GA (no greedy seed)": eos.pso_ga(env, wl, iterations=30, ga_generations=5, start="cut",
                                                       seed=seed).plan,
                 "random": eos.random_swarm(wl, 1, seed)[0]}
        for name, plan in plans.items():
            t1, t2, t3 = (a[0] for a in eos.swarm_delays(env, wl, plan[None, :]))
            run = execute_plan(env, wl, plan)
            rows.append({"seed": seed, "plan": name, "exec s": round(float(t1.sum()), 4),
                         "trans s": round(float(t2.sum()), 4), "wait s (model)": round(float(t3.sum()), 4),
                         "wait s (engine)": round(float(run["wait_s"].sum()), 4),
                         "exec, trans equal": bool(np.allclose(run["exec_s"], t1)
                                                   and np.allclose(run["trans_s"], t2)),
                         "waits equal per subtask": bool(np.allclose(run["wait_s"], t3))})
    sec.tables["eosdnn-engine"] = pd.DataFrame(rows)
    return sec
