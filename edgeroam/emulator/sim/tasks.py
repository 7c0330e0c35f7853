"""Tiered tasks on the sim engine: EosDNN migration plans and S3 frame streams, event by event.

The planners (emulator.planning.eosdnn, .scheduling) compute their delays analytically. This module runs the
same work as processes on the `Engine` with a `SlotServer` per node, so the three tiers (clients, edge and
cloud servers), the pair rates of topology.tiers, the slots and the bounded cloud queue are executed by the
sim backend's kernel rather than only modelled:

- `execute_plan` — every task of an EosDNN workload is a process: for each layer it sends the layer's input
  from the previous layer's node (the owner client for the first) at the pair's rate, then asks the layer's
  node for a slot. Slots are granted FIFO in arrival order, as in EosDNN's analytic model (`swarm_delays`):
  the two give every subtask the same wait.
- `execute_stream` — S3: each edge runs its frames in order on its one slot, sends the edge part's output
  over its own uplink (one at a time), and the task enters the cloud's queue of `capacity` or blocks its edge
  until a place frees; the cloud serves FIFO in arrival order.

What it leaves to others: choosing plans and cuts (planning), PerDNN's mobility runs (backend.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgeroam.emulator.sim.engine import Engine
from edgeroam.emulator.sim.slots import SlotServer
from edgeroam.errors import RunError

__all__ = ["execute_plan", "execute_stream"]


def execute_plan(env: object, wl: object, plan: np.ndarray) -> pd.DataFrame:
    """Run EosDNN plan `plan` (node per subtask, dispatch order) of workload `wl` in `env` on the engine.

    Returns one row per subtask (dispatch order): task, layer, node, exec_s, trans_s, wait_s, end.
    """
    plan = np.asarray(plan, dtype=np.int64).ravel()
    eng = Engine()
    nodes = [SlotServer(eng, int(p), None, name=f"node {i}") for i, p in enumerate(env.pools)]  # type: ignore[attr-defined]
    inv = env.inv_bw  # type: ignore[attr-defined]
    hz = env.hz  # type: ignore[attr-defined]
    out = np.zeros((len(plan), 4))

    def task(pos: np.ndarray, owner: int):  # noqa: ANN202 - a process generator
        here = owner
        for j in pos.tolist():
            d = int(plan[j])
            b = float(wl.in_bytes[j])  # type: ignore[attr-defined]
            tr = 0.0 if b == 0 or here == d else b * float(inv[here, d])
            if not np.isfinite(tr):
                raise RunError(f"subtask {j}: nodes {here} and {d} are not connected")
            if tr > 0:
                yield eng.timeout(tr)
            rec = yield nodes[d].run(float(wl.cycles[j]) / float(hz[d]), tag=j)  # type: ignore[attr-defined]
            out[j] = (rec.end - rec.start, tr, rec.wait_s, rec.end)
            here = d

    for t in range(wl.n_tasks):  # type: ignore[attr-defined]
        pos = np.flatnonzero(wl.task == t)  # type: ignore[attr-defined]
        pos = pos[np.argsort(wl.layer[pos], kind="stable")]  # type: ignore[attr-defined]
        eng.process(task(pos, int(wl.owner[pos[0]])), name=f"task {t}")  # type: ignore[attr-defined]
    eng.run()
    return pd.DataFrame({"task": wl.task, "layer": wl.layer, "node": plan,  # type: ignore[attr-defined]
                         "exec_s": out[:, 0], "trans_s": out[:, 1], "wait_s": out[:, 2], "end": out[:, 3]})


def execute_stream(
    table: object, cut: int, *, edges: int = 5, frames: int = 30, fps: float | np.ndarray = 10.0,
    capacity: int | None = 20,
) -> pd.DataFrame:
    """Run S3's frame streams with every task cut after layer `cut` (a `CutTable`); one row per task.

    Columns: edge, frame, arrive, start (edge), t_e, sent (uplink start), at_cloud, enter (cloud queue),
    begin (cloud), finish.
    """
    n = int(table.n)  # type: ignore[attr-defined]
    if not 0 <= cut <= n:
        raise RunError(f"cut must be in 0..{n}, got {cut}")
    rate = np.broadcast_to(np.asarray(fps, dtype=np.float64), (edges,))
    te, tt, tc = (float(getattr(table, k)[cut]) for k in ("t_e", "t_t", "t_c"))
    eng = Engine()
    cloud = SlotServer(eng, 1, capacity, name="cloud")
    links = [SlotServer(eng, 1, None, name=f"uplink {e}") for e in range(edges)]
    rows: list[tuple] = []

    def ship(e: int, k: int, arrive: float, start: float, entered):  # noqa: ANN001, ANN202 - uplink, cloud
        up = yield links[e].run(tt)
        rec = yield cloud.run(tc, entered=entered)
        rows.append((e, k, arrive, start, te, up.start, up.end, rec.enter, rec.start, rec.end))

    def edge(e: int):  # noqa: ANN202 - the edge's frames, one at a time
        last = None  # the previous task's admission into the cloud queue
        for k in range(frames):
            arrive = k / float(rate[e])
            if eng.now < arrive:
                yield eng.timeout(arrive - eng.now)
            if last is not None and cloud.blocked and not last.triggered and links[e].busy == 0:
                yield last  # its task waits outside the full cloud queue: the edge is blocked
            start = eng.now
            if te > 0:
                yield eng.timeout(te)
            if cut == n:
                rows.append((e, k, arrive, start, te, eng.now, eng.now, eng.now, eng.now, eng.now))
                continue
            last = eng.event(name=f"edge {e} frame {k} enters the cloud queue")
            eng.process(ship(e, k, arrive, start, last), name=f"edge {e} frame {k}")

    for e in range(edges):
        eng.process(edge(e), name=f"edge {e}")
    eng.run()
    cols = ["edge", "frame", "arrive", "start", "t_e", "sent", "at_cloud", "enter", "begin", "finish"]
    return pd.DataFrame(rows, columns=cols).sort_values(["edge", "frame"], ignore_index=True)
