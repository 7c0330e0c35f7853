"""Write docs/reproductions/s0.md: S0's Fig. 5 (upload orders after a PSO placement, AlexNet and VGG).

    python docs/reproductions/s0.py                  # rewrites s0.md next to this script
    python docs/reproductions/s0.py --iterations 60  # quicker PSO

S0 §V: R = 2 clients, 5 edge, 5 cloud servers (S0's bandwidth matrix, CPU ranges); step 1 places every
layer with PSO (our EosDNN PSO-GA); step 2 orders each task's offloaded layers with Direct Uploading, IONN,
Recursive Efficiency (and EosDNN's LMU), and SD(t) is tracked while queries repeat during the upload.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from blocks import block  # docs/reproductions/blocks.py beside this script

from edgeroam.emulator.dnn.zoo import model_graph
from edgeroam.emulator.planning import eosdnn as eos
from edgeroam.emulator.planning.lmu import (
    from_groups,
    largest_partition_ratio,
    lmu_schedule,
    placement_upload_problem,
    sd_timeline,
    server_groups,
    ssd,
)
from edgeroam.emulator.planning.partition import PlanProblem
from edgeroam.emulator.planning.upload import ionn_order, recursive_order
from edgeroam.sweep.others_seeds import ITERATIONS, SEEDS


def md_table(df: pd.DataFrame, fmt: str = "{:.3f}") -> str:
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt.format(v) if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def run(iterations: int, seed: int) -> tuple[str, list[str]]:
    env = eos.eosdnn_environment(2, 5, 5, seed=seed)
    rows, checks, costs = [], [], []
    for paper, name in (("AlexNet", "alexnet"), ("VGG", "vgg19")):
        wl = eos.make_workload(env, [name, name])
        plan = eos.pso_ga(env, wl, iterations=iterations, seed=seed).plan
        for label, p in (("PSO-GA plan", plan), ("all local", wl.owner.copy()),
                         ("greedy plan", eos.greedy(env, wl).plan)):
            c = eos.plan_costs(env, wl, p)
            costs.append({"model": paper, "plan": label, "MD s": c["md_s"], "exec s": c["exec_s"],
                          "trans s": c["trans_s"], "wait s": c["wait_s"], "energy J": c["energy_j"],
                          "money $": c["money"], "GB moved": c["gb_moved"]})
        for task in range(2):
            up = placement_upload_problem(env, wl, plan, task)
            servers = np.unique(up.node[up.offloaded])
            sch = {"Direct": server_groups(up), "LMU": lmu_schedule(up)}
            if len(servers) == 1:  # the single-server orders of upload.py apply as they are
                s = int(servers[0])
                bps = float(env.bw[up.client, s]) * 8
                prob2 = PlanProblem(model_graph(name), up.local_s, wl.cycles[wl.task == task][
                    np.argsort(wl.layer[wl.task == task])] / env.hz[s], up_bps=bps, down_bps=bps)
                sch["IONN"] = from_groups(up, ionn_order(prob2).groups, "ionn")
                sch["Recursive"] = from_groups(up, recursive_order(prob2, target=up.offloaded).groups, "rec")
            h = max(float(sd_timeline(up, x)["start"].iat[-1]) for x in sch.values())
            v = {k: ssd(up, x, h) for k, x in sch.items()}
            for k, x in sch.items():
                rows.append({"model": paper, "client": task, "servers": ",".join(map(str, servers)),
                             "plan": k, "steps": len(x.sent), "total SD (SSD, s²)": v[k],
                             "vs Direct": f"{100 * (v[k] / v['Direct'] - 1):+.1f} %",
                             "largest P3 / model": largest_partition_ratio(up, x)})
            if "IONN" in v:
                top = v["Direct"] > max(v["IONN"], v["Recursive"])
                checks.append(f"{paper} client {task}: Direct highest: {top}; Recursive < IONN: "
                              f"{v['Recursive'] < v['IONN']}")
    return md_table(pd.DataFrame(rows)) + "\n\nDelay, energy and money of the placements (two tasks; "\
        "`eosdnn.CostModel` defaults: 5 / 65 / 250 W per busy client / edge / cloud, 1.3 W radio, "\
        "0 / 2e-5 / 1e-4 $ per compute second, 0.09 $ per GB; assumptions, not from S0):\n\n" \
        + md_table(pd.DataFrame(costs), "{:.4g}"), checks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=600, help="PSO-GA iterations of the placement")
    ap.add_argument("--seed", type=int, default=0, help="seed of the environment and PSO")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("s0.md"), help="page to write")
    a = ap.parse_args()
    t0 = time.perf_counter()
    table, checks = run(a.iterations, a.seed)
    a.out.write_text(PAGE.format(table=table, checks="\n".join(f"- {c}" for c in checks), iters=a.iterations,
                                 seed=a.seed, secs=time.perf_counter() - t0, n_seeds=len(SEEDS),
                                 seed_iters=ITERATIONS,
                                 alexnet_mib=model_graph("alexnet").layers["weight_bytes"].sum() / 2**20,
                                 seeds=block("s0-seeds", "edgeroam reproduce eosdnn --docs --only s0-seeds")))
    print(f"wrote {a.out} in {time.perf_counter() - t0:.0f} s")


PAGE = """# S0 (Xue, Wu, Li) — Fig. 5: upload orders after a PSO placement

Generated by `python docs/reproductions/s0.py` ({secs:.0f} s; PSO-GA {iters} iterations, seed {seed}; do not
edit by hand). Code: `edgeroam/emulator/planning/eosdnn.py` (placement), `lmu.py` (SD, SSD, LMU, per-task
upload problem), `upload.py` (IONN, Recursive Efficiency).

Setup (S0 §V.B.1): 2 clients, 5 edge and 5 cloud servers; 10 / 0.5 / 0.5 / 5 / 10 MB/s (client-edge,
client-cloud, edge-cloud, cloud-cloud, edge-edge); CPU 1.1-2.3 / 4.2-18.3 / 40-120 GHz drawn with the seed.
Each client runs one task of the model. Step 1 places the layers (PSO-GA); step 2 orders each task's
offloaded layers; the client queries back to back while uploading, SD(t) is constant between uploads (S0
§V.B.2), and the total is the area under SD(t) until every order has finished uploading. Where a task's
layers sit on one server, IONN and Recursive Efficiency run unchanged on that client-server pair (S0 does
the same per server); Direct sends each server's layers whole. Our AlexNet weighs {alexnet_mib:.1f} MiB
(EosDNN's 237 MB; S0 prints 223 MB).

{table}

S0's claims (no numbers are printed): Direct Uploading has the highest total system delay; IONN and
Recursive Efficiency lower; Recursive Efficiency lower than IONN (finer P3). Ours:

{checks}

## Over seeds: mean ± spread

The same over {n_seeds} seeds (each draws the CPUs and PSO-GA's randomness; {seed_iters} PSO-GA iterations),
counting the seeds whose placement puts task 0's layers on one server (`edgeroam/sweep/others_seeds.py`):

{seeds}
"""


if __name__ == "__main__":
    main()
