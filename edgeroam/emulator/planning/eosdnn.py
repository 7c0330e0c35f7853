"""EosDNN's migration planning: where every layer of many tasks runs in a local-edge-cloud system.

Xue et al., "EosDNN" §III and §V (DIGEST §2.1-2.3):

- `Environment` — clients, edge and cloud servers with compute (Hz), parallel pools (client 1, edge 2, cloud
  8) and a bandwidth matrix per tier pair (`eosdnn_environment`; S0's 10 / 0.5 / 0.5 / 5 / 10 MB/s matrix
  by default, the EosDNN sentence read literally as ``matrix="literal"``; clients are not connected).
- `Workload` — tasks (one DNN each, owned by a client) cut into subtasks (layers), stored in dispatch order:
  position k of a plan is the k-th subtask dispatched (EosDNN's order u_j, fixed, never evolved). Tasks are
  interleaved layer by layer (all tasks' first layers, then all second layers, ...).
- The delay model, Eqs. (1)-(6): execution T1 = P / Q (P = the layer's FLOPs, one cycle per FLOP, a
  reading), transmission T2 = g / v from the node of the previous subtask (the owner client for the first
  layer), waiting
  T3 = time spent queued for a free pool slot (FIFO in arrival order, Eqs. 5-6; the dispatch order breaks
  ties). The fitness, Eq. (11), is the sum of T1 + T2 + T3 over all subtasks (the migration delay MD).
  `swarm_delays` evaluates a whole swarm at once: T1 and T2 are one gather each; the queue is a loop over
  subtasks in each particle's arrival order with numpy over the particles.
- Planners: `pso_ga` (Algorithm 1: GA seed, Eq. (12)-(15) mutation / segment crossover with the personal and
  global bests, adaptive inertia Eq. (16), ε1 0.9 -> 0.2 and ε2 0.4 -> 0.9 linear), and the baselines
  `genetic` (GA [23]), `greedy` (each subtask on the node that finishes it first [45]) and `pre_pso` ([30]:
  weightless layers tied to their predecessor, then PSO from a random swarm with no GA seed).

DAG models (GoogLeNet, ResNet) are linearised in topological order (IONN's reading), each layer reading
the sum of its inputs from the node of the layer before it; EosDNN's two-step inception migration (modules
merged for PSO-GA, then each module's branches placed) is twostep.py.
Layer upload order (LMU) is lmu.py's job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edgeroam._rng import SeedLike, as_generator
from edgeroam.errors import PlanningError
from edgeroam.topology.tiers import LINK_PRESETS, TierSpec

__all__ = [
    "MATRICES",
    "PSO_GA_DEFAULTS",
    "TIERS",
    "CostModel",
    "Environment",
    "MigrationResult",
    "Workload",
    "crossover",
    "cut_swarm",
    "delay_breakdown",
    "eosdnn_environment",
    "genetic",
    "greedy",
    "make_workload",
    "migration_delay",
    "mutate",
    "plan_costs",
    "pre_pso",
    "pso_ga",
    "random_swarm",
    "scenario_environment",
    "swarm_delays",
]

#: tier codes of `Environment.tier`
TIERS = ("client", "edge", "cloud")
#: bytes per "MB" (EosDNN's layer sizes are MiB of float32 weights; bandwidths use the same unit)
MB = 2.0**20
#: bandwidth in MB/s per tier pair (client, edge, cloud); 0 = not connected (topology.tiers.LINK_PRESETS)
MATRICES: dict[str, dict[tuple[str, str], float]] = {
    name: {(a, b): v for (a, b), v in ((k.split("-"), v) for k, v in m.items())}
    for name, m in LINK_PRESETS.items()
}
#: EosDNN Sec. VII.A: compute ranges in GHz and parallel pools per tier
CPU_GHZ = {"client": (1.1, 2.3), "edge": (4.2, 18.3), "cloud": (40.0, 120.0)}
POOLS = {"client": 1, "edge": 2, "cloud": 8}
#: EosDNN Sec. VII.A parameters of PSO-GA
PSO_GA_DEFAULTS = {"particles": 100, "iterations": 600, "eps1": (0.9, 0.2), "eps2": (0.4, 0.9),
                   "w": (0.8, 0.2)}


@dataclass(frozen=True)
class Environment:
    """Nodes of a local-edge-cloud system.

    Attributes
    ----------
    tier : numpy.ndarray
        int8 per node: 0 client, 1 edge, 2 cloud.
    hz : numpy.ndarray
        Compute per node, cycles per second.
    pools : numpy.ndarray
        Subtasks a node runs at once.
    bw : numpy.ndarray
        [S, S] bytes per second; ``inf`` on the diagonal, 0 = not connected.
    """

    tier: np.ndarray
    hz: np.ndarray
    pools: np.ndarray
    bw: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.tier)

    @property
    def clients(self) -> np.ndarray:
        """Node ids of the clients."""
        return np.flatnonzero(self.tier == 0)

    @property
    def inv_bw(self) -> np.ndarray:
        """[S, S] seconds per byte (0 on the diagonal, inf where not connected)."""
        with np.errstate(divide="ignore"):
            return np.where(self.bw > 0, 1.0 / self.bw, np.inf)


def eosdnn_environment(
    n_clients: int = 4, n_edge: int = 5, n_cloud: int = 5, *, matrix: str = "s0", seed: SeedLike = 0,
    tiers: TierSpec | None = None,
) -> Environment:
    """EosDNN's R = {clients, edges, clouds}: compute drawn uniformly in the paper's GHz ranges (seeded).

    `tiers` (a scenario's ``topology.tiers.spec()``) replaces `matrix` and the pools by its rates and slots.

    Examples
    --------
    >>> env = eosdnn_environment(seed=1)
    >>> env.n_nodes, env.pools.tolist()[3:6], float(env.bw[0, 4] / 2**20)
    (14, [1, 2, 2], 10.0)
    """
    if matrix not in MATRICES:
        raise PlanningError(f"unknown bandwidth matrix {matrix!r}; choose one of {sorted(MATRICES)}")
    for what, n in (("n_clients", n_clients), ("n_edge", n_edge), ("n_cloud", n_cloud)):
        if n < 0 or (what == "n_clients" and n < 1):
            raise PlanningError(f"{what} must be {'>= 1' if what == 'n_clients' else '>= 0'}, got {n}")
    rng = as_generator(seed)
    tier = np.repeat(np.arange(3, dtype=np.int8), [n_clients, n_edge, n_cloud])
    lo = np.array([CPU_GHZ[t][0] for t in TIERS])[tier]
    hi = np.array([CPU_GHZ[t][1] for t in TIERS])[tier]
    hz = rng.uniform(lo, hi) * 1e9
    spec = tiers or TierSpec.from_preset(matrix, slots=POOLS)
    pools = np.array([spec.slots[t] for t in TIERS])[tier]
    bw = spec.matrix_bps()[tier[:, None], tier[None, :]]
    np.fill_diagonal(bw, np.inf)
    return Environment(tier, hz, pools, bw)


def scenario_environment(scenario: object, n_clients: int = 4, n_edge: int = 5, *,
                         seed: SeedLike = 0) -> Environment:
    """EosDNN's environment under a scenario's ``[topology.tiers]`` (rates, slots) and cloud servers
    (``topology.backhaul.cloud.count``); compute drawn in the paper's ranges.

    Examples
    --------
    >>> from edgeroam.scenario import scenario_from_dict
    >>> sc = scenario_from_dict({"name": "t", "topology": {"tiers": {"slots": {"client": 1, "edge": 4,
    ...     "cloud": 16}}, "backhaul": {"cloud": {"enabled": True, "count": 2}}}})
    >>> env = scenario_environment(sc, 2, 3)
    >>> env.n_nodes, env.pools.tolist()[-3:]
    (7, [4, 16, 16])
    """
    tiers = scenario.topology.tiers  # type: ignore[attr-defined]
    if tiers is None:
        raise PlanningError("the scenario has no [topology.tiers] (set e.g. topology.tiers.links = 's0')")
    cloud = scenario.topology.backhaul.cloud  # type: ignore[attr-defined]
    return eosdnn_environment(n_clients, n_edge, cloud.count if cloud.enabled else 0, seed=seed,
                              tiers=tiers.spec())


@dataclass(frozen=True)
class Workload:
    """Subtasks of all tasks in dispatch order (position k = k-th dispatched).

    Attributes
    ----------
    task, layer, owner : numpy.ndarray
        Task id, layer index in its model and owner client node of each subtask.
    cycles, in_bytes, weight_bytes : numpy.ndarray
        P_ij (FLOPs), bytes the subtask reads (g_ij) and its weight bytes.
    prev : numpy.ndarray
        Position of the task's previous subtask, -1 for a first layer.
    allowed : numpy.ndarray
        [K, S] bool: nodes the subtask may run on.
    models : list of str
        Model of each task.
    """

    task: np.ndarray
    layer: np.ndarray
    owner: np.ndarray
    cycles: np.ndarray
    in_bytes: np.ndarray
    weight_bytes: np.ndarray
    prev: np.ndarray
    allowed: np.ndarray
    models: list[str]
    _choices: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = self.allowed.sum(1)
        if (counts == 0).any():
            k = int(np.argmax(counts == 0))
            raise PlanningError(
                f"subtask {k} (task {self.task[k]}, layer {self.layer[k]}) has no allowed node"
            )
        s = self.allowed.shape[1]
        # nodes allowed per subtask, packed left, and each node's rank in that list
        order = np.argsort(~self.allowed, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(s)[None, :].repeat(len(order), 0), axis=1)
        object.__setattr__(self, "_choices", (order, rank, counts))

    @property
    def n_subtasks(self) -> int:
        """Number of subtasks (the particle length β̄)."""
        return len(self.task)

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.models)


def make_workload(
    env: Environment,
    models: Sequence[str],
    *,
    tiers: str = "LEC",
    graphs: dict | None = None,
) -> Workload:
    """Tasks ``models[t]`` dealt round-robin over the clients; `tiers` limits the nodes ("LE", "LC", "LEC").

    `graphs` maps a model name to a `LayerGraph` (default: the zoo's). A subtask may run on its owner client
    or on any server of an allowed tier (clients are not connected to each other).
    """
    from edgeroam.emulator.dnn.zoo import model_graph

    if not models:
        raise PlanningError("a workload needs at least one task")
    bad = set(tiers) - set("LEC")
    if bad or "L" not in tiers:
        raise PlanningError(f"tiers must contain L and only L, E, C; got {tiers!r}")
    clients = env.clients
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("task", "layer", "owner", "cycles", "in", "w")}
    for t, name in enumerate(models):
        g = graphs[name] if graphs and name in graphs else model_graph(name)
        n = g.n_layers
        cols["task"].append(np.full(n, t))
        cols["layer"].append(np.arange(n))
        cols["owner"].append(np.full(n, clients[t % len(clients)]))
        cols["cycles"].append(g.layers["flops"].to_numpy(dtype=np.float64))
        cols["in"].append(g.in_bytes.astype(np.float64))
        cols["w"].append(g.layers["weight_bytes"].to_numpy(dtype=np.float64))
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((cat["task"], cat["layer"]))  # layer-major: dispatch all first layers, then seconds...
    cat = {k: v[order] for k, v in cat.items()}
    k = len(order)
    pos = np.empty(k, dtype=np.int64)
    pos[np.lexsort((cat["layer"], cat["task"]))] = np.arange(k)  # inverse map (task, layer) -> position
    by_task = np.lexsort((cat["layer"], cat["task"]))
    prev = np.full(k, -1, dtype=np.int64)
    same = cat["task"][by_task][1:] == cat["task"][by_task][:-1]
    prev[by_task[1:][same]] = by_task[:-1][same]
    server_ok = np.isin(env.tier, [i for i, c in enumerate("LEC") if c in tiers and c != "L"])
    allowed = np.broadcast_to(server_ok, (k, env.n_nodes)).copy()
    allowed[np.arange(k), cat["owner"]] = True
    return Workload(cat["task"], cat["layer"], cat["owner"], cat["cycles"], cat["in"], cat["w"], prev,
                    allowed, list(models))


# ---------------------------------------------------------------------------------------------- delay model
def _exec_trans(env: Environment, wl: Workload, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """T1 and T2 of every subtask of every particle ([N, K] each)."""
    t1 = wl.cycles[None, :] / env.hz[x]
    src = np.where(wl.prev[None, :] >= 0, x[:, np.maximum(wl.prev, 0)], wl.owner[None, :])
    inv = env.inv_bw
    t2 = wl.in_bytes[None, :] * inv[src, x]
    t2[np.isnan(t2)] = 0.0  # 0 bytes over an unconnected pair
    return t1, t2


def swarm_delays(env: Environment, wl: Workload, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Execution, transmission and waiting delay of every subtask of every particle (Eqs. 1-6).

    `x` is ``[N, K]`` node ids. Each node has ``pools`` slots; a subtask arrives when its predecessor has
    finished and its input has been sent, and the subtasks at a node are served FIFO in arrival order, each
    on the earliest-free slot (Eqs. 5-6: the queued subtask that arrives first takes the slot that frees
    first); the dispatch order u_j breaks ties between equal arrivals. Per particle the subtasks are taken
    in arrival order (each step, the earliest next subtask of any task), numpy over the particles.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.int64))
    n, k = x.shape
    if k != wl.n_subtasks:
        raise PlanningError(f"a plan has {k} positions, the workload {wl.n_subtasks} subtasks")
    t1, t2 = _exec_trans(env, wl, x)
    s, p, nt = env.n_nodes, int(env.pools.max()), wl.n_tasks
    free = np.where(np.arange(p)[None, :] < env.pools[:, None], 0.0, np.inf)
    free = np.broadcast_to(free, (n, s, p)).reshape(n * s * p).copy()
    # each task's subtask positions in layer order, then K (a sentinel: the task is done)
    by_task = np.lexsort((wl.layer, wl.task))
    counts = np.bincount(wl.task, minlength=nt)
    width = int(counts.max()) + 1
    seq = np.full((nt, width), k, dtype=np.int64)
    seq[wl.task[by_task], np.arange(k) - (np.cumsum(counts) - counts)[wl.task[by_task]]] = by_task
    seq = seq.ravel()
    # flat views: [N * (K + 1)] per-subtask values (the sentinel's transfer never ends), [N * T] per task
    t1f = np.concatenate([t1, np.zeros((n, 1))], axis=1).ravel()
    t2f = np.concatenate([t2, np.full((n, 1), np.inf)], axis=1).ravel()
    cells = (np.arange(n) * s)[:, None] + np.concatenate([x, np.zeros((n, 1), np.int64)], axis=1)
    cells = (cells * p).ravel()  # first slot of each subtask's node
    base = np.arange(n) * (k + 1)
    tbase = np.arange(n) * nt
    head = np.broadcast_to(seq[::width], (n, nt)).copy()  # position of each task's next subtask
    arrive = t2f[base[:, None] + head]  # first layers arrive once their input is sent from the owner
    head, arrive = head.ravel(), arrive.ravel()
    step = np.zeros(n * nt, dtype=np.int64)
    wait = np.zeros(n * (k + 1))
    offs = np.arange(p)
    tie = np.full(n * nt, k + 1)
    for _ in range(k):
        a2 = arrive.reshape(n, nt)
        first = a2.min(1)
        ti = tbase + np.where(a2 <= first[:, None], head.reshape(n, nt), tie.reshape(n, nt)).argmin(1)
        j = base + head[ti]
        r = cells[j]
        cell = r + free[r[:, None] + offs].argmin(1)
        start = np.maximum(first, free[cell])
        fin = start + t1f[j]
        free[cell] = fin
        wait[j] = start - first
        st = step[ti] + 1
        step[ti] = st
        nxt = seq[(ti - tbase) * width + st]
        head[ti] = nxt
        arrive[ti] = fin + t2f[base + nxt]
    return t1, t2, wait.reshape(n, k + 1)[:, :k]


def migration_delay(env: Environment, wl: Workload, x: np.ndarray) -> np.ndarray:
    """Eq. (11): Σ T1 + T2 + T3 of each particle (the migration delay MD, seconds); [N]."""
    t1, t2, t3 = swarm_delays(env, wl, x)
    return t1.sum(1) + t2.sum(1) + t3.sum(1)


def delay_breakdown(env: Environment, wl: Workload, plan: np.ndarray) -> pd.DataFrame:
    """One row per subtask of one plan: task, layer, node, tier, exec_s, trans_s, wait_s."""
    plan = np.asarray(plan, dtype=np.int64).ravel()
    t1, t2, t3 = swarm_delays(env, wl, plan[None, :])
    return pd.DataFrame({
        "task": wl.task, "layer": wl.layer, "node": plan, "tier": np.asarray(TIERS)[env.tier[plan]],
        "exec_s": t1[0], "trans_s": t2[0], "wait_s": t3[0],
    })


@dataclass(frozen=True)
class CostModel:
    """Energy and money of a plan, beside its delay (S0's open direction; the values are assumptions).

    Energy = compute power of the tier x busy (execution) time + the client's radio power x the airtime of
    every transfer that starts or ends at a client. Money = price per compute second of the tier + price
    per GB moved between different nodes. Pass another instance to model other hardware or prices.
    """

    compute_w: tuple[float, float, float] = (5.0, 65.0, 250.0)  # client SoC, edge box, cloud server (W)
    radio_w: float = 1.3  # Wi-Fi radio while sending or receiving (W)
    price_per_s: tuple[float, float, float] = (0.0, 2e-5, 1e-4)  # per compute second (client is free)
    price_per_gb: float = 0.09  # egress price per GB (10^9 B)


def plan_costs(env: Environment, wl: Workload, plan: np.ndarray, model: CostModel | None = None) -> dict:
    """Delay split (Eq. 11's terms), energy (J) and money of one plan under `model`."""
    m = model or CostModel()
    bd = delay_breakdown(env, wl, plan)
    plan = np.asarray(plan, dtype=np.int64).ravel()
    src = np.where(wl.prev >= 0, plan[np.maximum(wl.prev, 0)], wl.owner)
    tier = env.tier[plan]
    moved = src != plan
    at_client = (env.tier[src] == 0) | (tier == 0)
    compute_j = float((np.asarray(m.compute_w)[tier] * bd["exec_s"].to_numpy()).sum())
    radio_j = float(m.radio_w * bd["trans_s"].to_numpy()[moved & at_client].sum())
    money = float((np.asarray(m.price_per_s)[tier] * bd["exec_s"].to_numpy()).sum()
                  + m.price_per_gb * wl.in_bytes[moved].sum() / 1e9)
    return {"md_s": float(bd[["exec_s", "trans_s", "wait_s"]].to_numpy().sum()),
            "exec_s": float(bd["exec_s"].sum()), "trans_s": float(bd["trans_s"].sum()),
            "wait_s": float(bd["wait_s"].sum()), "energy_j": compute_j + radio_j, "compute_j": compute_j,
            "radio_j": radio_j, "money": money, "gb_moved": float(wl.in_bytes[moved].sum() / 1e9)}


# ---------------------------------------------------------------------------------------------- operators
def random_swarm(wl: Workload, n: int, seed: SeedLike = None) -> np.ndarray:
    """`n` particles with every subtask on a uniformly drawn allowed node."""
    rng = as_generator(seed)
    order, _, counts = wl._choices
    pick = (rng.random((n, wl.n_subtasks)) * counts[None, :]).astype(np.int64)
    return order[np.arange(wl.n_subtasks)[None, :], pick]


def cut_swarm(wl: Workload, n: int, seed: SeedLike = None) -> np.ndarray:
    """`n` particles where each task runs layers ``< cut`` on its owner and the rest on one drawn node.

    Cut and node are uniform per particle and task (a single-cut prior, as NeuroSurgeon-style splits).
    """
    rng = as_generator(seed)
    first = np.flatnonzero(wl.layer == 0)
    first = first[np.argsort(wl.task[first])]
    n_layers = np.bincount(wl.task, minlength=wl.n_tasks)
    cut = (rng.random((n, wl.n_tasks)) * (n_layers + 1)).astype(np.int64)
    node = random_swarm(wl, n, rng)[:, first]
    local = wl.layer[None, :] < cut[:, wl.task]
    x = np.where(local, wl.owner[None, :], node[:, wl.task])
    return np.where(wl.allowed[np.arange(wl.n_subtasks)[None, :], x], x, wl.owner[None, :])


def mutate(wl: Workload, x: np.ndarray, rows: np.ndarray, seed: SeedLike = None) -> np.ndarray:
    """M(): in each selected row, one random position moves to another allowed node (a copy is returned)."""
    rng = as_generator(seed)
    x = x.copy()
    idx = np.flatnonzero(rows)
    if not len(idx):
        return x
    order, rank, counts = wl._choices
    pos = rng.integers(0, wl.n_subtasks, len(idx))
    c = counts[pos]
    movable = c > 1
    idx, pos, c = idx[movable], pos[movable], c[movable]
    r = (rng.random(len(idx)) * (c - 1)).astype(np.int64)
    cur = rank[pos, x[idx, pos]]
    r = r + (r >= cur)
    x[idx, pos] = order[pos, r]
    return x


def crossover(x: np.ndarray, donor: np.ndarray, rows: np.ndarray, seed: SeedLike = None) -> np.ndarray:
    """p() / g(): in each selected row, a random segment [ind1, ind2] is copied from `donor` (same shape)."""
    rng = as_generator(seed)
    n, k = x.shape
    a = rng.integers(0, k, n)
    b = rng.integers(0, k, n)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    cols = np.arange(k)[None, :]
    seg = (cols >= lo[:, None]) & (cols <= hi[:, None]) & np.asarray(rows, dtype=bool)[:, None]
    return np.where(seg, donor, x)


# ---------------------------------------------------------------------------------------------- planners
@dataclass(frozen=True)
class MigrationResult:
    """A migration plan and how it was found.

    Attributes
    ----------
    plan : numpy.ndarray
        Node of each subtask (dispatch order).
    md : float
        Migration delay of the plan, Eq. (11), seconds.
    history : numpy.ndarray
        Best MD after each iteration / generation.
    evaluations : int
        Plans evaluated.
    seconds : float
        Wall time.
    method : str
        The planner.
    seed_md : float or None
        PSO-GA: MD of the GA seed it started from.
    """

    plan: np.ndarray
    md: float
    history: np.ndarray
    evaluations: int
    seconds: float
    method: str
    seed_md: float | None = None


def _ties(wl: Workload, tie: bool) -> np.ndarray:
    """Gene of each position: itself, or (tie) the first position of its run of weightless followers."""
    gene = np.arange(wl.n_subtasks)
    if not tie:
        return gene
    follow = (wl.weight_bytes == 0) & (wl.prev >= 0)
    # walk back through weightless layers to the nearest layer that keeps its own gene
    for _ in range(wl.n_subtasks):
        nxt = np.where(follow[gene], wl.prev[gene], gene)
        if np.array_equal(nxt, gene):
            break
        gene = nxt
    return gene


def _pso(
    env: Environment, wl: Workload, init: np.ndarray, *, iterations: int, eps1: tuple[float, float],
    eps2: tuple[float, float], w: tuple[float, float], rng: np.random.Generator, gene: np.ndarray,
    progress: bool,
) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Eq. (12)-(16) over the whole swarm; positions sharing a gene always move together."""
    x = init[:, gene]
    fit = migration_delay(env, wl, x)
    pb, pbf = x.copy(), fit.copy()
    g = int(np.argmin(pbf))
    gb, gbf = pb[g].copy(), float(pbf[g])
    hist = np.empty(iterations)
    n = len(x)
    w_max, w_min = w
    bar = _Bar(progress, iterations, "PSO-GA")
    for t in range(iterations):
        frac = t / max(iterations - 1, 1)
        e1 = eps1[0] - (eps1[0] - eps1[1]) * frac
        e2 = eps2[0] - (eps2[0] - eps2[1]) * frac
        d = (x != gb[None, :]).mean(1)
        inertia = w_max - (w_max - w_min) * np.exp(d / (d - 1.01))
        x = mutate(wl, x, rng.random(n) < inertia, rng)[:, gene]
        x = crossover(x, pb, rng.random(n) < e1, rng)
        x = crossover(x, np.broadcast_to(gb, x.shape), rng.random(n) < e2, rng)
        fit = migration_delay(env, wl, x)
        better = fit < pbf
        pb[better], pbf[better] = x[better], fit[better]
        g = int(np.argmin(pbf))
        if pbf[g] < gbf:
            gb, gbf = pb[g].copy(), float(pbf[g])
        hist[t] = gbf
        bar.advance()
    bar.close()
    return gb, gbf, hist, n * (iterations + 1)


class _Bar:
    """A rich progress bar that does nothing when off."""

    def __init__(self, on: bool, total: int, what: str) -> None:
        self._p = None
        if on:
            from rich.progress import Progress

            self._p = Progress(transient=True)
            self._p.start()
            self._task = self._p.add_task(what, total=total)

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._task)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


def genetic(
    env: Environment, wl: Workload, *, population: int = 100, generations: int = 600,
    crossover_p: float = 0.9, mutation_p: float = 0.2, init: np.ndarray | None = None, seed: SeedLike = None,
    progress: bool = False,
) -> MigrationResult:
    """GA baseline [23]: binary tournaments, segment crossover, one-gene mutation, the best kept (elitism).

    Returns the best plan; its ``history`` is the best MD per generation. `init` starts from a given
    population instead of a random one.
    """
    res, _ = _genetic(env, wl, population=population, generations=generations, crossover_p=crossover_p,
                      mutation_p=mutation_p, init=init, rng=as_generator(seed), progress=progress)
    return res


def _genetic(
    env: Environment, wl: Workload, *, population: int, generations: int, crossover_p: float,
    mutation_p: float, init: np.ndarray | None, rng: np.random.Generator, progress: bool,
) -> tuple[MigrationResult, np.ndarray]:
    t0 = time.perf_counter()
    pop = random_swarm(wl, population, rng) if init is None else init.copy()
    fit = migration_delay(env, wl, pop)
    hist = np.empty(generations)
    n = len(pop)
    bar = _Bar(progress, generations, "GA")
    for gen in range(generations):
        best = int(np.argmin(fit))
        a, b = rng.integers(0, n, (2, n))
        parents = np.where((fit[a] <= fit[b])[:, None], pop[a], pop[b])
        mates = parents[rng.permutation(n)]
        kids = crossover(parents, mates, rng.random(n) < crossover_p, rng)
        kids = mutate(wl, kids, rng.random(n) < mutation_p, rng)
        kids[0] = pop[best]
        pop, fit = kids, migration_delay(env, wl, kids)
        hist[gen] = fit.min()
        bar.advance()
    bar.close()
    best = int(np.argmin(fit))
    res = MigrationResult(pop[best].copy(), float(fit[best]), hist, n * (generations + 1),
                          time.perf_counter() - t0, "ga")
    return res, pop


def pso_ga(
    env: Environment, wl: Workload, *, particles: int = 100, iterations: int = 600,
    eps1: tuple[float, float] = (0.9, 0.2), eps2: tuple[float, float] = (0.4, 0.9),
    w: tuple[float, float] = (0.8, 0.2), ga_generations: int = 100, start: str = "greedy",
    seed: SeedLike = None, progress: bool = False,
) -> MigrationResult:
    """EosDNN Algorithm 1: a GA seed, then PSO with mutation / crossover operators and adaptive inertia.

    The GA starts from `start`: ``"greedy"`` = single-cut plans (`cut_swarm`) plus the greedy plan (the
    "current allocation" of Algorithm 1's preprocessing, a reading), ``"cut"`` = single-cut plans only,
    ``"random"`` = uniform plans. The swarm starts from the GA's final population, each crossed with a
    single-cut plan and mutated, plus the GA's best plan itself, so the result is never worse than the seed.

    Examples
    --------
    >>> env = eosdnn_environment(2, 1, 1, seed=0)
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> g = LayerGraph.from_chain("toy", [10**6] * 4, [10**5] * 4, [4e9] * 4, 10**5)
    >>> wl = make_workload(env, ["toy", "toy"], graphs={"toy": g})
    >>> r = pso_ga(env, wl, particles=10, iterations=20, ga_generations=5, seed=0)
    >>> bool(r.md <= r.seed_md), r.plan.shape
    (True, (8,))
    """
    rng = as_generator(seed)
    t0 = time.perf_counter()
    if start not in ("greedy", "cut", "random"):
        raise PlanningError(f"start must be 'greedy', 'cut' or 'random', got {start!r}")
    first = random_swarm(wl, particles, rng) if start == "random" else cut_swarm(wl, particles, rng)
    if start == "greedy":
        first[0] = greedy(env, wl).plan
    seed_res, pop = _genetic(env, wl, population=particles, generations=ga_generations, crossover_p=0.9,
                             mutation_p=0.2, init=first, rng=rng, progress=progress)
    init = crossover(cut_swarm(wl, particles, rng), pop, np.ones(particles, dtype=bool), rng)
    init = mutate(wl, init, np.ones(particles, dtype=bool), rng)
    init[0] = seed_res.plan
    gb, gbf, hist, evals = _pso(env, wl, init, iterations=iterations, eps1=eps1, eps2=eps2, w=w, rng=rng,
                                gene=np.arange(wl.n_subtasks), progress=progress)
    return MigrationResult(gb, gbf, hist, evals + seed_res.evaluations, time.perf_counter() - t0, "pso-ga",
                           seed_res.md)


def pre_pso(
    env: Environment, wl: Workload, *, particles: int = 100, iterations: int = 600,
    eps1: tuple[float, float] = (0.9, 0.2), eps2: tuple[float, float] = (0.4, 0.9),
    w: tuple[float, float] = (0.8, 0.2), seed: SeedLike = None, progress: bool = False,
) -> MigrationResult:
    """prePSO [30] as read here: weightless layers follow their predecessor, PSO from a random swarm."""
    rng = as_generator(seed)
    t0 = time.perf_counter()
    gene = _ties(wl, True)
    gb, gbf, hist, evals = _pso(env, wl, random_swarm(wl, particles, rng), iterations=iterations, eps1=eps1,
                                eps2=eps2, w=w, rng=rng, gene=gene, progress=progress)
    return MigrationResult(gb, gbf, hist, evals, time.perf_counter() - t0, "prepso")


def greedy(env: Environment, wl: Workload) -> MigrationResult:
    """Greedy [45]: in dispatch order, each subtask goes to the allowed node where it finishes first."""
    t0 = time.perf_counter()
    s, p = env.n_nodes, int(env.pools.max())
    free = np.where(np.arange(p)[None, :] < env.pools[:, None], 0.0, np.inf)
    done = np.zeros(wl.n_tasks)
    plan = np.empty(wl.n_subtasks, dtype=np.int64)
    inv = env.inv_bw
    nodes = np.arange(s)
    for j in range(wl.n_subtasks):
        src = plan[wl.prev[j]] if wl.prev[j] >= 0 else wl.owner[j]
        with np.errstate(invalid="ignore"):
            t2 = np.nan_to_num(wl.in_bytes[j] * inv[src], nan=0.0)
        arrive = done[wl.task[j]] + t2
        slot = free.argmin(1)
        start = np.maximum(arrive, free[nodes, slot])
        fin = np.where(wl.allowed[j], start + wl.cycles[j] / env.hz, np.inf)
        d = int(np.argmin(fin))
        plan[j] = d
        free[d, slot[d]] = fin[d]
        done[wl.task[j]] = fin[d]
    md = float(migration_delay(env, wl, plan[None, :])[0])
    return MigrationResult(plan, md, np.array([md]), 1, time.perf_counter() - t0, "greedy")
