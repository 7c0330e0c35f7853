"""Write docs/reproductions/s3.md: S3's Table 1 and Figs. 4-7 setups with our profiles, beside the paper.

    python docs/reproductions/s3.py                  # rewrites s3.md next to this script
    python docs/reproductions/s3.py --out /tmp/s3.md

Everything is computed by emulator.planning.scheduling (no randomness: arrivals are k / fps).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from blocks import block  # docs/reproductions/blocks.py beside this script

from edgeroam.emulator.dnn.zoo import model_graph
from edgeroam.emulator.planning.scheduling import BANDWIDTHS, METHODS, model_cut_table, simulate

PAPER = {  # S3 Table 1 (TARGETS S3-T1), seconds: 3G C-O, E-O, S-C, S-Q, 4G C-O, E-O, S-C, S-Q
    "AlexNet": (78.3, 88.9, 43.7, 43.7, 28.6, 88.9, 27.1, 24.7),
    "Tiny-YOLO": (200.8, 159.7, 59.9, 59.9, 84.2, 159.7, 58.6, 58.6),
    "DarkNet19": (77.8, 180.4, 54.6, 54.6, 34.9, 180.4, 34.9, 32.6),
    "AlexNet-Parallel": (70.2, 44.9, 40.6, None, 27.9, 44.9, 27.9, None),
    "ResNet18": (84.3, 81.7, 32.0, None, 34.4, 81.7, 25.5, None),
    "GoogLeNet": (91.2, 121.1, 63.3, None, 43.2, 121.1, 43.2, None),
}
ZOO = {"AlexNet": "alexnet", "Tiny-YOLO": "tiny_yolo", "DarkNet19": "darknet19",
       "AlexNet-Parallel": "alexnet_parallel", "ResNet18": "resnet18",
       "GoogLeNet": "googlenet"}
SHORT = {"cloud": "C-O", "edge": "E-O", "single": "S-C", "queue": "S-Q"}


def md_table(df: pd.DataFrame, fmt: str = "{:.1f}") -> str:
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt.format(v) if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def table1(cloud: str) -> tuple[str, str, str, pd.DataFrame]:
    rows, krows, qrows = [], [], []
    long = []
    for paper, p in PAPER.items():
        name = ZOO.get(paper)
        row = {"DNN": paper}
        for j, net in enumerate(("3G", "4G")):
            if name is None:
                for k, m in enumerate(("cloud", "edge", "single", "queue")):
                    v = p[4 * j + k]
                    row[f"{net} {SHORT[m]}"] = "— (—)" if v is None else f"n/a ({v})"
                continue
            t = model_cut_table(name, BANDWIDTHS[net], cloud=cloud)
            res = {m: simulate(t, m) for m in METHODS}
            for k, m in enumerate(("cloud", "edge", "single", "queue")):
                v = p[4 * j + k]
                row[f"{net} {SHORT[m]}"] = f"{res[m].makespan:.1f} ({'—' if v is None else v})"
                long.append({"DNN": paper, "net": net, "method": SHORT[m], "ours": res[m].makespan,
                             "paper": v})
            eo = res["edge"].makespan
            krows.append({"DNN": paper, "net": net, "cut v_best / N": f"{t.best} / {t.n}",
                          "E-O/S-C": eo / res["single"].makespan, "E-O/S-Q": eo / res["queue"].makespan,
                          "C-O/S-C": res["cloud"].makespan / res["single"].makespan,
                          "E-O/C-O": eo / res["cloud"].makespan})
            sq = res["queue"].tasks
            qrows.append({"DNN": paper, "net": net, "S-C max T_w s": float(res["single"].tasks["t_w"].max()),
                          "S-C mean T_link s": float(res["single"].tasks["t_link"].mean()),
                          "S-Q tasks moved": int((sq["cut"] != t.best).sum()),
                          "mean T_e": float(sq["t_e"].mean()), "mean T_t": float(sq["t_t"].mean()),
                          "mean T_c": float(sq["t_c"].mean()), "mean T_w": float(sq["t_w"].mean())})
        rows.append(row)
    return (md_table(pd.DataFrame(rows)), md_table(pd.DataFrame(krows), "{:.2f}"),
            md_table(pd.DataFrame(qrows), "{:.3f}"), pd.DataFrame(long))


def per_frame() -> str:
    """Per-frame edge time (ours vs the paper's E-O / 30) and the cheapest cut tensor at 3G: why S-C = E-O."""
    rows = []
    for paper, name in ZOO.items():
        t = model_cut_table(name, BANDWIDTHS["3G"])
        k = int(np.argmin(t.total[1:-1])) + 1  # the best cut that splits the model
        rows.append({"DNN": paper, "edge s/frame": float(t.t_e[-1]), "paper E-O/30": PAPER[paper][1] / 30,
                     "best split": f"after {k} of {t.n}", "its 3G transfer s": float(t.t_t[k]),
                     "edge s it saves": float(t.t_e[-1] - t.t_e[k] - t.t_c[k]), "3G v_best": t.best})
    return md_table(pd.DataFrame(rows), "{:.3f}")


def sweep(name: str, cloud: str) -> tuple[str, int, int]:
    rows, ok, band = [], 0, 0
    for mbps in (0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12):
        t = model_cut_table(name, mbps * 1e6, cloud=cloud)
        ms = {SHORT[m]: simulate(t, m).makespan for m in METHODS}
        rows.append({"Mbit/s": mbps, **ms, "cut": t.best})
        if 2 <= mbps <= 7:
            band += 1
            ok += ms["S-Q"] <= ms["S-C"] + 1e-9 and ms["S-C"] <= min(ms["E-O"], ms["C-O"]) + 1e-9
    return md_table(pd.DataFrame(rows)), ok, band


def order_check() -> str:
    """S-C and S-Q at 4G with drawn frame rates: our simulation against the sim engine (arrival order)."""
    from edgeroam.emulator.sim.tasks import execute_stream

    rows = []
    for name in ("darknet19", "resnet18", "googlenet"):
        t = model_cut_table(name, BANDWIDTHS["4G"])
        for seed in range(3):
            fps = np.random.default_rng(seed).uniform(5, 15, 5)
            a, b = simulate(t, "single", fps=fps), execute_stream(t, t.best, fps=fps)
            q = simulate(t, "queue", fps=fps)
            rows.append({"DNN": name, "seed": seed, "S-C s": a.makespan,
                         "max T_w s": float(a.tasks["t_w"].max()),
                         "S-C s (engine)": float(b["finish"].max()),
                         "max wait s (engine)": float((b["begin"] - b["enter"]).max()),
                         "S-Q s": q.makespan, "S-Q tasks moved": int((q.tasks["cut"] != t.best).sum())})
    return md_table(pd.DataFrame(rows), "{:.3f}")


def edges_sweep(name: str) -> str:
    rows = []
    t = model_cut_table(name, BANDWIDTHS["4G"])
    for n in range(1, 6):
        ms = {SHORT[m]: simulate(t, m, edges=n).makespan for m in METHODS}
        rows.append({"edges": n, **ms, "E-O/S-C": ms["E-O"] / ms["S-C"], "E-O/S-Q": ms["E-O"] / ms["S-Q"]})
    return md_table(pd.DataFrame(rows), "{:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("s3.md"), help="page to write")
    a = ap.parse_args()
    t0 = time.perf_counter()
    t1, kap, queue, long = table1("rtx-2080ti")
    t1_cpu, _, queue_cpu, long_cpu = table1("i7-7700")
    sw_a, ok_a, band_a = sweep("alexnet", "rtx-2080ti")
    sw_r, ok_r, band_r = sweep("resnet18", "rtx-2080ti")
    sw_cpu, ok_c, band_c = sweep("alexnet", "i7-7700")
    have = long.dropna()
    rel = (have["ours"] / have["paper"]).to_numpy()
    gain = long_cpu[long_cpu.method.isin(["S-C", "S-Q"])].pivot_table(index=["DNN", "net"], columns="method",
                                                                         values="ours")
    n_cells, n_slower = len(gain), int((gain["S-Q"] > gain["S-C"] + 1e-9).sum())
    gain = gain[gain["S-Q"] < gain["S-C"] - 1e-9]
    faster = ", ".join(f"{d} {n}: {r['S-C']:.1f} → {r['S-Q']:.1f} s" for (d, n), r in gain.iterrows())
    gains = (f"it is faster in Table 1 on: {faster};" if faster else "it is faster in no Table 1 cell;") + \
        f" it is slower in {n_slower} of the {n_cells} cells"
    dk = model_cut_table("darknet19", BANDWIDTHS["4G"], cloud="i7-7700")
    dk_q = simulate(dk, "queue")
    page = PAGE.format(dk_moved=int((dk_q.tasks["cut"] != dk.best).sum()), dk_sq=dk_q.makespan,
                       ap_m=model_graph("alexnet_parallel").layers["weight_bytes"].sum() / 4e6,
                       alex_cloud_ms=1e3 * float(model_cut_table("alexnet", BANDWIDTHS["4G"]).t_c[0]),
                       dk_sc=simulate(dk, "single").makespan,
                       frame=per_frame(), t1=t1, kap=kap, queue=queue, t1_cpu=t1_cpu, queue_cpu=queue_cpu,
                       sw_a=sw_a, sw_r=sw_r,
                       sw_cpu=sw_cpu, ok_a=ok_a, band_a=band_a, ok_r=ok_r, band_r=band_r, ok_c=ok_c,
                       band_c=band_c, ed_a=edges_sweep("alexnet"), ed_r=edges_sweep("resnet18"),
                       rel_lo=float(np.min(rel)), rel_hi=float(np.max(rel)), rel_med=float(np.median(rel)),
                       n_rel=len(rel), n_gain=len(gain), secs=time.perf_counter() - t0,
                       gains=gains,
                       seeds=block("s3-seeds", "edgeroam reproduce s3 --docs --only s3-seeds"),
                       order=order_check())
    a.out.write_text(page)
    print(f"wrote {a.out} in {time.perf_counter() - t0:.0f} s")


PAGE = """# S3 (Zhang et al. 2022) — edge-cloud task migration scheduling

Generated by `python docs/reproductions/s3.py` ({secs:.0f} s; do not edit by hand). Code:
`edgeroam/emulator/planning/scheduling.py`; tests `tests/emulator/planning/test_scheduling.py`.

## Setup and readings

- 5 edges × 30 frames (150 tasks), frame k of an edge arrives at k / 10 fps; cloud queue capacity C = 20;
  uplink 3G 1.1 Mbit/s, 4G 5.85 Mbit/s (S3-S1..S5).
- Profiles: presets `rpi-3b` (edge) and `rtx-2080ti` (cloud) of emulator.dnn.devices (roofline constants
  scaled from darknet's published times by spec ratios, not fitted to S3); tensors from our zoo graphs
  (input 227² / 224² / 416² float32). The paper's per-layer profiles and input encoding are not published.
- Each edge's uplink sends one output at a time (the next task's edge part runs meanwhile); the cloud serves
  FIFO, one task at a time; a task finding C tasks waiting blocks its edge (DIGEST §4.2 reading).
- Cuts are prefixes of the topological order (Eq. 1 for chains; for DAGs a prefix cut, not QDMP, which S3
  does not describe). AlexNet-Parallel is not defined in the paper; we read it as Krizhevsky et al.'s
  two-tower AlexNet (zoo `alexnet_parallel`: each tower reads the image, conv3 and the fcs read both;
  {ap_m:.1f} M weights), whose grouped conv2/4/5 make it cheaper than the one-tower AlexNet, as the paper's
  E-O 44.9 s against 88.9 s implies.
- S-Q (Algorithm 2 with DIGEST §4.2's fixes): t_wait = time the cloud finishes earlier tasks minus the
  task's arrival at the cloud; cuts later than v_best are taken while the wait saved exceeds the extra edge
  time. We run S-Q on DAG models too (the paper does not), shown in the tables.

## Table 1 — total inference delay of the system, s: ours (paper)

{t1}

Ours / paper over the {n_rel} cells we can compute: {rel_lo:.2f} to {rel_hi:.2f}, median {rel_med:.2f}.

Why 3G S-C is E-O for AlexNet, AlexNet-Parallel, ResNet18 and GoogLeNet here (the paper's S-C beats both
tiers): no cut saves more edge time than its transfer costs at 1.1 Mbit/s (table: the best split's transfer
against the edge time it saves, cloud time deducted). The paper's S-C 43.7 s vs E-O 88.9 s implies a split of
AlexNet whose output crosses 3G faster than the Pi runs the rest; with our tensors (float32, 227² input) and
the `rpi-3b` preset there is none. Where a split pays (Tiny-YOLO, DarkNet19), S-C beats both tiers as in the
paper.

{frame}

Speed-ups κ (ours; the paper's are in TARGETS S3-K):

{kap}

### Why S-Q = S-C here: the cloud never queues

{queue}

With the RTX 2080 Ti preset a whole AlexNet takes {alex_cloud_ms:.2f} ms on the cloud, so the cloud finishes
every task before the next arrives (max T_w above) and Algorithm 2's trigger (t_wait > 0) never fires: S-Q
keeps v_best and equals S-C. The bottleneck is each edge's uplink (T_link, the wait for it). The paper's S-Q
gains (AlexNet 4G 27.1 → 24.7 s, DarkNet19 34.9 → 32.6 s) need a cloud that is busy. With the cloud's CPU
instead (preset `i7-7700`, the paper's i7-9700K class), S-Q moves tasks;
{gains},
because Algorithm 2 weighs only this task's cloud wait against its extra edge time, not the delay its longer
edge part causes the edge's next frames (DarkNet19 4G below: {dk_moved} of 150 tasks moved,
{dk_sq:.1f} s against S-C's {dk_sc:.1f} s).

Table 1 with an `i7-7700` cloud (sensitivity, not the paper's setup):

{t1_cpu}

{queue_cpu}

## Figs. 6-7 — makespan (s) against uplink bandwidth (5 edges)

AlexNet (Fig. 6); S-Q ≤ S-C ≤ min(E-O, C-O) holds at {ok_a} of {band_a} bandwidths in 2-7 Mbit/s:

{sw_a}

ResNet18 (Fig. 7; S-C only in the paper); the same ordering holds at {ok_r} of {band_r}:

{sw_r}

AlexNet with an `i7-7700` cloud: the ordering holds at {ok_c} of {band_c}:

{sw_cpu}

At 0.5-1 Mbit/s the best cut is edge-only (S-C = E-O) and C-O is worst, as the paper says for 0-1 Mbit/s.
Above 7-8 Mbit/s the paper says S-C, S-Q and E-O have "the same efficiency" (DIGEST §4.5 #3 reads it as C-O);
ours converge to C-O, not E-O.

## Figs. 4-5 — makespan (s) against the number of edges, 4G

AlexNet (paper: S-C 2.88-3.27×, S-Q 3.12-3.75× faster than E-O):

{ed_a}

ResNet18 (paper: S-C 2.94-3.20× faster than E-O):

{ed_r}

The edge count changes nothing here: every edge has its own uplink and the cloud is never busy, so each edge
runs as if alone; the paper's ratios move with the edge count because its cloud is shared and busy.

## Table 1 over seeds: each edge's frame rate drawn in 5-15 fps

S3 samples 5-15 frames per second per edge; the tables above use 10 fps on every edge. Below, 10 seeds each
draw the five edges' rates (`edgeroam/sweep/others_seeds.py`): mean, spread and range of the makespan.

{seeds}

Unequal rates change nothing in the ordering here: S-Q = S-C in every cell (the paper's trend, S-Q no
slower than S-C, holds as an equality, as at 10 fps). The cloud serves tasks in the order they arrive
there (FIFO, S3 §3); the same S-C runs on the sim engine (`edgeroam/emulator/sim/tasks.py`, the cloud a
`SlotServer`, queue 20) give the same makespan and the same largest cloud wait, and S-Q moves no task.
(Until issue 26 the simulation served the cloud in the order the edges committed their tasks; a task from
an edge whose uplink had fallen behind then held up tasks that had arrived before it, S-C waited seconds
at the cloud and S-Q, reading that as a busy cloud, was several times slower than S-C for DarkNet19 at 4G;
that page is in git history.)

{order}

## Not reproduced

- QDMP for DAGs (not described; a prefix cut instead). AlexNet-Parallel is our reading (see Setup).
- Headline "up to 6.48×" (S3-H): not obtainable from the paper's own Table 1 either (TARGETS S3-H).
"""


if __name__ == "__main__":
    main()
