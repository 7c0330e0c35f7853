"""EosDNN's two-step migration for DAG models with inception (or residual) modules (§V.A, DIGEST §2.2).

- `find_modules` — the modules of a `LayerGraph`: a *chain point* is a layer no edge jumps over (every path
  passes through it); the layers strictly between two consecutive chain points that are not neighbours form
  a module whose input is the first point and whose join (concat / add) is the second. Its *branches* are the
  weakly connected pieces of those layers (layers fed by the same input, EosDNN's layer blocks); a direct
  edge from the input to the join (a residual shortcut) is an empty branch.
- Step 1, *initial migration* (Eq. 7): every module becomes one layer (`merged_graph`: FLOPs and weights
  summed, the join's output) and PSO-GA places the chain (eosdnn.pso_ga).
- Step 2, *secondary migration* (Eq. 8): with the module's input node and join node fixed by step 1, each
  branch goes to one node; a branch costs the transfer of the module's input to its node, its execution
  there and the transfer of its output to the join's node; the module costs its slowest branch plus the join.
  A node runs ``pools`` branches of the module at once, the rest wait for a slot (FIFO; Eq. 8's x^run <=
  x^pl); every assignment is tried (vectorised) when there are at most `max_combos`, else branches are placed
  greedily, slowest first. Other tasks' use of the nodes is not seen by step 2 (Eq. 8 is per module).

The migration delay of the two-step plan is step 1's MD with each merged layer's execution and transfer
replaced by its module's step-2 delay (its step-1 waiting kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgeroam._rng import SeedLike
from edgeroam.emulator.planning.eosdnn import (
    Environment,
    MigrationResult,
    make_workload,
    pso_ga,
    swarm_delays,
)

__all__ = ["Module", "TwoStepResult", "find_modules", "merged_graph", "two_step"]


@dataclass(frozen=True)
class Module:
    """One module: input layer (-1 = the model's input), join layer, and the layers of each branch."""

    input: int
    join: int
    branches: tuple[np.ndarray, ...]
    shortcut: bool

    @property
    def layers(self) -> np.ndarray:
        """Every layer of the module after its input, the join included."""
        return np.arange(self.input + 1, self.join + 1)


def find_modules(graph: object) -> list[Module]:
    """The modules of `graph` (a LayerGraph with edges from lower to higher index), in order.

    Examples
    --------
    >>> from edgeroam.emulator.dnn.zoo import model_graph
    >>> mods = find_modules(model_graph("googlenet"))
    >>> len(mods), [len(m.branches) for m in mods][:2]
    (9, [4, 4])
    """
    n = int(graph.n_layers)  # type: ignore[attr-defined]
    edges = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)  # type: ignore[attr-defined]
    jump = np.zeros(n + 1, dtype=np.int64)
    np.add.at(jump, edges[:, 0] + 1, 1)
    np.add.at(jump, edges[:, 1], -1)
    crossed = np.cumsum(jump)[:n] > 0
    sources = np.setdiff1d(np.arange(n), edges[:, 1])
    points = np.flatnonzero(~crossed)
    if len(sources) > 1:  # several layers read the image: the first module starts at the input
        points = points[points > sources.max()]
    starts = np.concatenate([[-1], points])
    mods = []
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        if b - a <= 1:
            continue
        inner = np.arange(a + 1, b)
        e = edges[(edges[:, 0] > a) & (edges[:, 1] < b)]
        label = inner.copy()  # union-find by repeated min-propagation over the inner edges
        for _ in range(len(inner)):
            lo = np.minimum(label[e[:, 0] - a - 1], label[e[:, 1] - a - 1])
            new = label.copy()
            np.minimum.at(new, e[:, 0] - a - 1, lo)
            np.minimum.at(new, e[:, 1] - a - 1, lo)
            if np.array_equal(new, label):
                break
            label = new
        branches = tuple(inner[label == r] for r in np.unique(label))
        shortcut = bool(((edges[:, 0] == a) & (edges[:, 1] == b)).any())
        mods.append(Module(a, b, branches, shortcut))
    return mods


def merged_graph(graph: object, modules: list[Module]) -> object:
    """The chain of step 1: layers outside modules as they are, each module (its join included) as one layer.

    Returns a LayerGraph named like `graph` with ``-merged`` appended.
    """
    from edgeroam.emulator.dnn.graph import LayerGraph

    lay = graph.layers  # type: ignore[attr-defined]
    w = lay["weight_bytes"].to_numpy(np.int64)
    o = lay["out_bytes"].to_numpy(np.int64)
    f = lay["flops"].to_numpy(np.float64)
    n = len(w)
    group = np.arange(n)
    for m in modules:
        group[m.layers] = m.join
    keep = np.unique(group)
    ws = pd.Series(w).groupby(group).sum().reindex(keep).to_numpy()
    fs = pd.Series(f).groupby(group).sum().reindex(keep).to_numpy()
    return LayerGraph.from_chain(f"{graph.name}-merged", ws, o[keep], fs,  # type: ignore[attr-defined]
                                 int(graph.input_bytes))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TwoStepResult:
    """A two-step migration plan.

    Attributes
    ----------
    step1 : MigrationResult
        PSO-GA on the merged chains (its MD is Eq. 7's).
    branches : pandas.DataFrame
        One row per (task, module, branch): node and delay (s); the empty branch of a shortcut has node -1.
    modules : pandas.DataFrame
        One row per (task, module): input node, join node, step-1 delay (exec + transfer) and step-2 delay.
    md : float
        Migration delay of the two-step plan, seconds.
    """

    step1: MigrationResult
    branches: pd.DataFrame
    modules: pd.DataFrame
    md: float


def two_step(
    env: Environment, models: list[str], *, tiers: str = "LEC", graphs: dict | None = None,
    max_combos: int = 200_000, seed: SeedLike = None, **pso: object,
) -> TwoStepResult:
    """EosDNN's two-step migration of the tasks `models` (dealt over the clients as `make_workload` does).

    `pso` goes to `pso_ga` (iterations, particles, ...).
    """
    from edgeroam.emulator.dnn.zoo import model_graph

    full = {name: (graphs or {}).get(name) or model_graph(name) for name in dict.fromkeys(models)}
    mods = {name: find_modules(g) for name, g in full.items()}
    merged = {name: merged_graph(g, mods[name]) for name, g in full.items()}
    wl = make_workload(env, models, tiers=tiers, graphs=merged)
    res = pso_ga(env, wl, seed=seed, **pso)  # type: ignore[arg-type]
    t1, t2, t3 = (a[0] for a in swarm_delays(env, wl, res.plan[None, :]))
    inv = env.inv_bw.copy()
    np.fill_diagonal(inv, 0.0)
    brows, mrows = [], []
    delay = t1 + t2 + t3
    for t, name in enumerate(models):
        pos = np.flatnonzero(wl.task == t)
        pos = pos[np.argsort(wl.layer[pos])]
        g = full[name]
        lay = g.layers
        out, flops = lay["out_bytes"].to_numpy(np.float64), lay["flops"].to_numpy(np.float64)
        group = np.arange(g.n_layers)
        for m in mods[name]:
            group[m.layers] = m.join
        chain_of = {int(v): k for k, v in enumerate(np.unique(group).tolist())}  # layer -> merged position
        allowed = np.flatnonzero(wl.allowed[pos[0]])
        for k, m in enumerate(mods[name]):
            j = pos[chain_of[m.join]]
            src = int(res.plan[pos[chain_of[m.input]]]) if m.input >= 0 else int(wl.owner[j])
            dst = int(res.plan[j])
            in_b = float(out[m.input]) if m.input >= 0 else float(g.input_bytes)
            feeds = {int(a) for a, b in np.asarray(g.edges) if b == m.join}
            cyc = np.array([flops[b].sum() for b in m.branches])
            ob = np.array([sum(out[i] for i in b if int(i) in feeds) for b in m.branches])
            nodes, d = _place(env, inv, allowed, src, dst, in_b, cyc, ob, max_combos)
            join_s = float(flops[m.join] / env.hz[dst])
            short = in_b * inv[src, dst] if m.shortcut else 0.0
            mod_s = max(float(d.max()) if len(d) else 0.0, short) + join_s
            mrows.append((t, name, k, src, dst, float(t1[j] + t2[j]), mod_s, len(m.branches)))
            brows.extend((t, name, k, b, int(nodes[b]), float(d[b])) for b in range(len(m.branches)))
            if m.shortcut:
                brows.append((t, name, k, len(m.branches), -1, float(short)))
            delay[j] = t3[j] + mod_s
    modules = pd.DataFrame(mrows, columns=["task", "model", "module", "input_node", "join_node", "step1_s",
                                           "step2_s", "branches"])
    branches = pd.DataFrame(brows, columns=["task", "model", "module", "branch", "node", "delay_s"])
    return TwoStepResult(res, branches, modules, float(delay.sum()))


def _place(
    env: Environment, inv: np.ndarray, allowed: np.ndarray, src: int, dst: int, in_b: float, cyc: np.ndarray,
    out_b: np.ndarray, max_combos: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes of a module's branches minimising the slowest one; each branch's delay (s).

    A node runs ``pools`` branches at once; the others wait for a slot in branch order (FIFO).
    """
    nb, na = len(cyc), len(allowed)
    arrive = np.nan_to_num(in_b * inv[src, allowed], nan=0.0)  # [A]
    run = cyc[:, None] / env.hz[allowed][None, :]  # [B, A]
    back = np.nan_to_num(out_b[:, None] * inv[allowed, dst][None, :], nan=0.0)  # [B, A]
    if na**nb <= max_combos:
        combos = np.stack(np.meshgrid(*[np.arange(na)] * nb, indexing="ij"), -1).reshape(-1, nb)
    else:  # greedy, slowest branch first, each where it ends first given the slots taken so far
        combos = np.zeros((1, nb), dtype=np.int64)
        for b in np.argsort(-run.min(1)):
            trial = np.repeat(combos, na, 0)
            trial[:, b] = np.arange(na)
            combos = trial[[int(np.argmin(_delays(trial, arrive, run, back, env.pools[allowed], upto=b)
                                              .max(1)))]]
    d = _delays(combos, arrive, run, back, env.pools[allowed])
    best = int(np.argmin(d.max(1)))
    return allowed[combos[best]], d[best]


def _delays(combos: np.ndarray, arrive: np.ndarray, run: np.ndarray, back: np.ndarray, pools: np.ndarray,
            upto: int | None = None) -> np.ndarray:
    """[C, B] delay of each branch (arrival, FIFO slot wait, execution, output transfer) for every assignment;
    with `upto`, branches after it count as absent."""
    c, nb = combos.shape
    p = int(pools.max())
    free = np.where(np.arange(p)[None, :] < pools[:, None], 0.0, np.inf)
    free = np.broadcast_to(free, (c, *free.shape)).copy()  # [C, A, P]
    out = np.zeros((c, nb))
    rows = np.arange(c)
    for b in range(nb if upto is None else upto + 1):
        a = combos[:, b]
        slot = free[rows, a].argmin(1)
        start = np.maximum(arrive[a], free[rows, a, slot])
        fin = start + run[b, a]
        free[rows, a, slot] = fin
        out[:, b] = fin + back[b, a]
    return out
