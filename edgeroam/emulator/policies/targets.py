"""`TargetPolicy`: pick target servers for each user, then send them the layers; every variant is a parameter.

Each tick: one `SetPlan` per user that arrived (`current_plans`), then for each attached user the targets of
its *rule* among the candidate servers, the edge servers within `radius_m` of its predicted next point (the
policy enforces its own radius; nearest first), and one `Migrate` per target with the server-side layers of
the target's future plan in efficiency order (PerDNN §III.B):

- ``rule="nearest"``: the first `targets` candidates (all when None). With ``count_current`` the current
  server counts among them (PerDNN's top-k); otherwise k servers other than the current one. With `gate`, a
  user whose nearest candidate is its current server (predicted to stay) gets no target. With `v_split`,
  users faster than `v_split` m/s over the last interval get `targets_fast` targets instead.
- ``rule="probability"``: candidates ranked by P(next server = s) from the predictor's error sample
  (`edgeroam.emulator.policies.prob`): every one with P ≥ `tau` (at most `k_max`), or with ``tau=None`` the
  fewest reaching cumulative probability `q`.
- ``rule="classifier"``: candidates ranked by a next-server classifier (`edgeroam.emulator.policies.rank`):
  every one with P ≥ `tau`, at most `k_max`.

Where the points come from is `predictor`: ``"model"`` (the scenario's predictor) or ``"oracle"`` (the true
next position: the only way the future reaches a policy). How layers move: with `relay` each Migrate lists
the whole order and is a standing order (forward-on-arrival); without it a Migrate lists the layers only when
the source holds some the target lacks (else it only refreshes the target's TTL). With `fractional`, a
migration from or to a crowded server carries only the prefix within the byte budget (PerDNN §IV.B.5; the
run finds the crowded servers, the top `crowded_fraction` by peak uplink of a first pass, and the budget,
`fraction_mb`). With ``keep_m > 0`` every other server holding the client's layers within `keep_m` of the
user gets a refresh (a Migrate with no layers). `from_scratch` drops the client's layers from every other
server when it arrives somewhere (IONN), `everywhere` is the optimal bound (every server holds every layer).
The holding rule the backend applies: `ttl_intervals` (0: no expiry) and `server_plans` (per-server LRU).
What is sent (layers.py): `order` (``"efficiency"``, PerDNN; ``"lmu"``, EosDNN's Layer Merge Uploading) and
`split` (``"optimal"``, the planner's plan; ``"single"`` / ``"queue"``, S3's Single Cutting / Scheduling with
Queuing, whose cut moves toward the client as the server's load grows), for SetPlan and Migrate alike.

What it leaves to others: the error model and the classifier (prob.py, rank.py), executing (backends).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.emulator.actions import Action, Drop, Migrate, Migrates, SetCloud, SetPlan, plain_migrate
from edgeroam.emulator.policies.base import MasterView, Policy, current_plans
from edgeroam.emulator.policies.layers import ORDERS, SPLITS, LayerChoice
from edgeroam.errors import RunError, ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.prepare import Prepared
    from edgeroam.mobility.replay import Tick

__all__ = ["RULES", "SOURCES", "TargetPolicy", "speeds"]

#: how targets are chosen among the candidates
RULES = ("nearest", "probability", "classifier")
#: where the predicted next points come from
SOURCES = ("model", "oracle")


def speeds(tick: Tick, interval_s: float) -> np.ndarray:
    """Speed of each user over the last interval in m/s (0 where the history holds one position only).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> h = np.array([[[0.0, 0.0], [0.0, 0.0], [30.0, 40.0]]])
    >>> speeds(SimpleNamespace(history=h, history_len=np.array([3])), 10.0).tolist()
    [5.0]
    """
    h = np.asarray(tick.history, dtype=np.float64)
    if h.shape[1] < 2:
        return np.zeros(len(h))
    step = np.hypot(*(h[:, -1] - h[:, -2]).T) / float(interval_s)
    return np.where(np.asarray(tick.history_len) >= 2, step, 0.0)


_NONE: frozenset[int] = frozenset()
_REFRESHES = 1 << 14
"""Refresh actions `TargetPolicy._decide_each` keeps for reuse (it starts over when full)."""
#: a target's plan: layer names, layer indices and their bits (`_bits` of the plan's layer mask)
_Plan = tuple[tuple[str, ...], np.ndarray, int]


def _bits(mask: np.ndarray) -> int:
    """A boolean layer mask as one integer, bit 8·i set where layer i is (the mask's bytes, little-endian):
    whether two masks share a layer is then one ``&`` of two integers.

    Examples
    --------
    >>> _bits(np.array([True, False, True])) == 1 | 1 << 16
    True
    >>> bool(_bits(np.array([True, False])) & ~_bits(np.array([True, True])))
    False
    """
    return int.from_bytes(mask.tobytes(), "little")


def _csr(rows: tuple[Any, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A CSR pair (offsets, servers) as int64 arrays: the servers' lists hold plain ints (`plain_migrate`)."""
    return np.asarray(rows[0], np.int64), np.asarray(rows[1], np.int64)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c - 1 for each count c, concatenated (the position of each entry within its group)."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _check(ok: bool, key: str, msg: str) -> None:
    if not ok:
        raise ScenarioError(None, f"policy.{key}", msg)


def _count(value: Any, key: str, *, none: bool = True) -> int | None:
    if value is None and none:
        return None
    _check(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0, key,
           f"must be a whole number >= 0{' or unset' if none else ''}, got {value!r}")
    return int(value)


def _real(value: Any, key: str, *, lo: float = 0.0, none: bool = False) -> float | None:
    if value is None and none:
        return None
    _check(isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
           and math.isfinite(float(value)) and float(value) >= lo, key,
           f"must be a finite number >= {lo:g}{' or unset' if none else ''}, got {value!r}")
    return float(value)


def _flag(value: Any, key: str) -> bool:
    _check(isinstance(value, (bool, np.bool_)), key, f"must be true or false, got {value!r}")
    return bool(value)


class TargetPolicy(Policy):
    """The one target-rule policy (see the module docstring); today's names are aliases of its parameters.

    Examples
    --------
    >>> p = TargetPolicy(targets=3, relay=True)
    >>> p.get_params()["targets"], p.set_params(targets=2).targets
    (3, 2)
    """

    #: from this many users in a tick `decide` works on arrays (a tick of a few users goes user by user)
    batch_users: int = 64

    def __init__(
        self, *, radius_m: float = 100.0, predictor: str = "model", rule: str = "nearest",
        targets: int | None = None, count_current: bool = True, gate: bool = False,
        targets_fast: int | None = None, v_split: float | None = None, relay: bool = False,
        fractional: bool = False, crowded_fraction: float = 0.06, fraction_mb: float | None = None,
        tau: float | None = None, q: float = 0.8, k_max: int = 3, keep_m: float = 0.0, n_bins: int = 3,
        n_samples: int = 500, moving_only: bool = False, seed: int = 0, from_scratch: bool = False,
        everywhere: bool = False, ttl_intervals: int = 5, server_plans: int | None = None,
        order: str = "efficiency", split: str = "optimal",
    ) -> None:
        self.radius_m = _real(radius_m, "radius_m")
        _check(predictor in SOURCES, "predictor", f"must be one of {', '.join(SOURCES)}, got {predictor!r}")
        _check(rule in RULES, "rule", f"must be one of {', '.join(RULES)}, got {rule!r}")
        self.predictor, self.rule = predictor, rule
        self.targets = _count(targets, "targets")
        self.count_current, self.gate = _flag(count_current, "count_current"), _flag(gate, "gate")
        self.targets_fast = _count(targets_fast, "targets_fast")
        self.v_split = _real(v_split, "v_split", none=True)
        _check((self.targets_fast is None) == (self.v_split is None), "v_split",
               "targets_fast and v_split go together (set both or neither)")
        self.relay, self.fractional = _flag(relay, "relay"), _flag(fractional, "fractional")
        self.crowded_fraction = _real(crowded_fraction, "crowded_fraction")
        _check(self.crowded_fraction <= 1.0, "crowded_fraction", "must be at most 1")
        self.fraction_mb = _real(fraction_mb, "fraction_mb", none=True)
        self.tau = _real(tau, "tau", none=True)
        self.q = _real(q, "q")
        self.k_max = _count(k_max, "k_max", none=False)
        self.keep_m = _real(keep_m, "keep_m")
        self.n_bins = _count(n_bins, "n_bins", none=False)
        self.n_samples = _count(n_samples, "n_samples", none=False)
        _check(self.n_bins >= 1 and self.n_samples >= 1, "n_bins", "n_bins and n_samples must be at least 1")
        self.moving_only = _flag(moving_only, "moving_only")
        self.seed = _count(seed, "seed", none=False)
        self.from_scratch = _flag(from_scratch, "from_scratch")
        self.everywhere = _flag(everywhere, "everywhere")
        self.ttl_intervals = _count(ttl_intervals, "ttl_intervals", none=False)
        self.server_plans = _count(server_plans, "server_plans")
        _check(self.server_plans is None or self.server_plans >= 1, "server_plans", "must be at least 1")
        _check(order in ORDERS, "order", f"must be one of {', '.join(ORDERS)}, got {order!r}")
        _check(split in SPLITS, "split", f"must be one of {', '.join(SPLITS)}, got {split!r}")
        self.order, self.split = order, split
        self._choice = LayerChoice(order, split)
        self._near: tuple[np.ndarray, np.ndarray] | None = None
        self._points = np.zeros((0, 2))
        self._ranked: tuple[np.ndarray, np.ndarray] | None = None  # the rule's targets of every row (CSR)
        self._sites = np.zeros((0, 2))
        self._memo: tuple[Any, float, dict] | None = None  # `_plans`
        # `_decide_each`'s refreshes (Migrates with no layers) by (client, src, dst): the same few pairs tick
        # after tick while a user stays, and an action is a frozen value, so one object serves them all
        self._refreshes: dict[tuple[int, int, int], Migrate] = {}

    @property
    def sends(self) -> bool:
        """Whether the policy sends layers ahead at all (no targets: IONN, the optimal bound)."""
        return not (self.rule == "nearest" and self.targets == 0 and self.keep_m <= 0)

    def fit(self, prepared: Prepared) -> TargetPolicy:
        """The candidate servers of every replay row within `radius_m` of its point; the rule's model."""
        from edgeroam.emulator.prepare import near_servers

        prep = prepared
        points = prep.predictions(self.predictor)
        if not self.sends:
            near = (np.zeros(len(points) + 1, np.int64), np.zeros(0, np.int64))
        elif self.predictor == "model" and self.radius_m == prep.scenario.policy.radius_m:
            near = prep.near_pred  # the same servers, already found
        else:
            near = near_servers(prep.world, points, self.radius_m)
        self.set_candidates(points, near)
        if self.rule == "probability":
            from edgeroam.emulator.policies.prob import ProbRule

            rule = ProbRule.fit(prep, n_bins=self.n_bins, n_samples=self.n_samples,
                                moving_only=self.moving_only, seed=self.seed)
            self._ranked = _csr(rule.targets(prep.ticks, self._points, self._near, tau=self.tau, q=self.q,
                                             k_max=self.k_max))
        elif self.rule == "classifier":
            from edgeroam.emulator.policies.rank import RankRule

            rule = RankRule.fit(prep, self._points, self._near, self.radius_m, seed=self.seed)
            self._ranked = _csr(rule.targets(self.tau, self.k_max))
        if self.keep_m > 0:
            from edgeroam.emulator.policies.rank import server_sites

            self._sites = server_sites(prep.world.topology.servers)
        return self

    def set_candidates(self, points: np.ndarray, near: tuple[np.ndarray, np.ndarray]) -> None:
        """The next point [R, 2] and the candidate servers (CSR over the R replay rows, nearest first) of
        every row; `fit` finds them within `radius_m`."""
        self._points = np.asarray(points, np.float64)
        self._near = _csr(near)

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """SetPlan for arrivals (and IONN's drops), then Migrate to each user's targets, then refreshes."""
        if self._near is None:
            raise RunError(f"policy {self.name!r}: not fitted (fit(prepared) comes before decide)")
        out = current_plans(view, tick)
        if view.cloud_bps is not None and self.split != "optimal":  # S3 on tier slots: three-way (layers.py)
            out = [x for a in out for x in self._three_way(view, a.client, a.server)]
        elif not self._choice.default:
            out = [SetPlan(a.client, a.server, self._choice.layers(view.planner, view.load(a.server))[0])
                   for a in out]
        if self.from_scratch:
            for a in list(out):
                out.extend(Drop(a.client, s) for s in sorted(view.held_by(a.client) - {a.server}))
        if not self.sends:
            return out
        if len(tick.server) < self.batch_users:  # a few users (most Geolife ticks): no array to find them
            self._decide_each(view, tick, None, out)
            return out
        users = (tick.server >= 0).nonzero()[0]
        if len(users) < self.batch_users:
            self._decide_each(view, tick, users, out)
            return out
        owner, dst = self._targets(view, tick, users)
        u_src, u_client = tick.server[users], tick.user_code[users]
        src, client = u_src[owner], u_client[owner]
        go = dst != src
        out.extend(self._migrates(view, u_client, u_src, owner[go], client[go], src[go], dst[go]))
        if self.keep_m > 0:
            first = np.searchsorted(owner, np.arange(len(users) + 1)).tolist()
            dst_l = dst.tolist()
            for j, i in enumerate(users.tolist()):
                self._keep(view, tick, i, dst_l[first[j]: first[j + 1]], out)
        return out

    def _three_way(self, view: MasterView, client: int, server: int) -> tuple[SetPlan, SetCloud]:
        """S3's client | edge | cloud split of one arrival from the waits its edge server measured."""
        layers, _, cut = self._choice.three_way(view.planner, view.cloud_bps or 0.0, view.queue_wait(server))
        return SetPlan(client, server, layers), SetCloud(client, server, cut)

    def _decide_each(self, view: MasterView, tick: Tick, users: np.ndarray | None, out: list[Action]) -> None:
        """`decide`'s targets and Migrates user by user (a tick with few users: cheaper than arrays);
        `users`: the positions of the tick's users with a server (None: found here)."""
        nearest = self.rule == "nearest"
        off, srv = self._near if nearest else self._ranked  # CSR rows: candidates, or the rule's targets
        b = view.first_row
        servers, codes = tick.server.tolist(), tick.user_code.tolist()
        bounds = off[b: b + len(servers) + 1].tolist()
        budget = self._budget(view, tick).tolist() if nearest and self.v_split is not None else None
        k_all = -1 if self.targets is None else self.targets
        gate, count_current, relay = self.gate, self.count_current, self.relay
        crowded = view.crowded if self.fractional else _NONE
        some_crowded = bool(crowded)
        holds = view.holds
        plans, load = self._plans(view), view.load
        tick_plans: dict[tuple[int, bool], _Plan] = {}
        refreshes = self._refreshes
        for i in [i for i, s in enumerate(servers) if s >= 0] if users is None else users.tolist():
            src, client = servers[i], codes[i]
            targets = srv[bounds[i]: bounds[i + 1]].tolist()
            if nearest:
                if gate and targets and targets[0] == src:
                    targets = []  # predicted to stay: nothing goes ahead
                else:
                    if not count_current:
                        targets = [s for s in targets if s != src]
                    k = k_all if budget is None else budget[i]
                    if k >= 0:
                        targets = targets[:k]
            have: Any = False  # not asked yet
            for dst in targets:
                if dst == src:
                    continue
                cut = some_crowded and (src in crowded or dst in crowded)
                if plans is None:
                    plan = tick_plans.get((dst, cut))
                    if plan is None:
                        plan = tick_plans[(dst, cut)] = self._plan(view, dst, cut)
                else:
                    key = (load(dst), cut)
                    plan = plans.get(key)
                    if plan is None:
                        plan = plans[key] = self._plan(view, dst, cut)
                layers, _, wanted = plan
                if not layers:
                    continue
                # (plain_migrate: ints from the tick's lists, src != dst, the planner's layer tuples)
                if relay:
                    out.append(plain_migrate(client, src, dst, layers, True))
                    continue
                if have is False:
                    have = holds(client, src)
                    if have is not None:
                        have = _bits(have)
                # does src hold a layer of the plan that dst lacks? (on the masks' bits: a few integer
                # operations instead of four numpy calls per target; dst is asked only when src holds any)
                useful = 0 if have is None else have & wanted
                if useful:
                    lack = holds(client, dst)
                    if lack is not None:
                        useful &= ~_bits(lack)
                if useful:
                    out.append(plain_migrate(client, src, dst, layers))
                else:
                    refresh = refreshes.get((client, src, dst))
                    if refresh is None:
                        if len(refreshes) >= _REFRESHES:
                            refreshes.clear()
                        refresh = refreshes[(client, src, dst)] = plain_migrate(client, src, dst, ())
                    out.append(refresh)
            if self.keep_m > 0:
                self._keep(view, tick, i, targets, out)

    def _targets(self, view: MasterView, tick: Tick, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The targets of the rule as pairs: ``(owner, dst)``, owner the position of the user in `users`, in
        user order and each user's target order (its current server may be among them)."""
        off, srv = self._near
        b = view.first_row
        if self.rule != "nearest":
            off, srv = self._ranked  # the rule's targets, most probable first
        lo = off[b + users]
        counts = off[b + users + 1] - lo
        owner = np.repeat(np.arange(len(users)), counts)
        dst = srv[np.repeat(lo, counts) + _ranks(counts)]
        if self.rule != "nearest":
            return owner, dst
        src = tick.server[users]
        keep = np.ones(len(dst), bool)
        if self.gate:  # predicted to stay (the nearest candidate is the current server): nothing goes ahead
            first = np.cumsum(counts) - counts
            some = counts > 0
            stay = np.zeros(len(users), bool)
            stay[some] = dst[first[some]] == src[some]
            keep &= ~stay[owner]
        if not self.count_current:
            keep &= dst != src[owner]
        owner, dst = owner[keep], dst[keep]
        k = self._budget(view, tick)[users][owner]
        pos = _ranks(np.bincount(owner, minlength=len(users)))
        take = (k < 0) | (pos < k)
        return owner[take], dst[take]

    def _migrates(self, view: MasterView, u_client: np.ndarray, u_src: np.ndarray, owner: np.ndarray,
                  client: np.ndarray, src: np.ndarray, dst: np.ndarray) -> list[Action | Migrates]:
        """One Migrate per (user `owner`, target `dst`) pair: the future plan's layers of the target (cut for
        crowded servers) when the source holds one of them that the target lacks (or always with `relay`),
        else a refresh; none where the plan has no layers."""
        if not len(dst):
            return []
        pl = view.planner
        if self.fractional and view.crowded:
            crowded = np.fromiter(view.crowded, np.int64, len(view.crowded))
            cut = np.isin(src, crowded) | np.isin(dst, crowded)
        else:
            cut = np.zeros(len(dst), bool)
        memo = self._plans(view)
        if memo is None:  # one plan per target server and cut (the loads are fixed within a tick)
            _, first, pid = np.unique(dst * 2 + cut, return_index=True, return_inverse=True)
            plans = [self._plan(view, int(dst[f]), bool(cut[f])) for f in first.tolist()]
        else:  # one plan per load of the target and cut, kept across ticks
            servers, at = np.unique(dst, return_inverse=True)
            load = np.array([view.load(x) for x in servers.tolist()], np.int64)[at]
            codes, first, pid = np.unique(load * 2 + cut, return_index=True, return_inverse=True)
            plans = []
            for c, f in zip(codes.tolist(), first.tolist(), strict=True):
                key = (c // 2, bool(c % 2))
                if key not in memo:
                    memo[key] = self._plan(view, int(dst[f]), key[1])
                plans.append(memo[key])
        layers = [p[0] for p in plans]
        dst_l, src_l, pid_l = dst.tolist(), src.tolist(), pid.tolist()
        if self.relay:
            return [Migrate(c, s, d, layers[p], relay=True)
                    for c, s, d, p in zip(client.tolist(), src_l, dst_l, pid_l, strict=True) if layers[p]]
        # does the source hold a layer of the plan that the target lacks? (one array operation per tick, on
        # the masks of every pair asked at once)
        n_layers = pl.n_layers
        have = view.holds_matrix(u_client, u_src)
        lack = view.holds_matrix(client, dst)
        wanted = np.zeros((len(plans), n_layers), bool)
        for j, p in enumerate(plans):
            wanted[j, p[1]] = True
        useful = (have[owner] & ~lack & wanted[pid]).any(axis=1)
        # as one batch of columns (a refresh where nothing is useful): a tick of 10,000 users has ~40,000 rows
        keep = np.array([bool(x) for x in layers])[pid]
        return [Migrates(client.astype(np.int64)[keep], src[keep], dst[keep], tuple(layers),
                         np.where(useful, pid, -1)[keep])]

    def _budget(self, view: MasterView, tick: Tick) -> np.ndarray:
        """Targets per user (-1: every candidate) of the nearest rule."""
        k = -1 if self.targets is None else self.targets
        if self.v_split is None:
            return np.full(len(tick.server), k, np.int64)
        v = speeds(tick, view.interval_s)
        return np.where(v < self.v_split, k, self.targets_fast).astype(np.int64)

    def _plans(self, view: MasterView) -> dict[tuple[int, bool], _Plan] | None:
        """`_plan` by (load of the target, cut), kept across ticks for the view's planner and byte budget
        (a plan depends on nothing else); None for S3 on tier slots, whose plans read the measured waits."""
        if view.cloud_bps is not None and self.split != "optimal":
            return None
        memo = self._memo
        if memo is None or memo[0] is not view.planner or memo[1] != view.fraction_bytes:
            memo = self._memo = (view.planner, view.fraction_bytes, {})
        return memo[2]

    def _plan(self, view: MasterView, dst: int, cut: bool) -> _Plan:
        """Layers, layer indices and layer bits (`_bits`) of `dst`'s future plan, cut to the byte budget
        when `cut`."""
        entry = view.future_plan(dst)
        if self._choice.default:
            if cut:
                entry = view.planner.fraction(entry.load, view.fraction_bytes)
            layers, index = entry.layers, entry.index
        elif view.cloud_bps is not None and self.split != "optimal":  # S3 on tier slots: dst's edge part
            layers, index, _ = self._choice.three_way(view.planner, view.cloud_bps, view.queue_wait(dst))
        else:
            layers, index = self._choice.layers(view.planner, entry.load)
        if cut and not self._choice.default:  # the longest prefix within the budget
            keep = int(np.searchsorted(np.cumsum(view.planner.weight_bytes[index]), view.fraction_bytes,
                                       side="right"))
            layers, index = layers[:keep], index[:keep]
        mask = np.zeros(view.planner.n_layers, bool)
        mask[index] = True
        return layers, index, _bits(mask)

    def _keep(self, view: MasterView, tick: Tick, i: int, targets: list[int], out: list[Action]) -> None:
        """A refresh (Migrate with no layers) to every other server holding user `i`'s layers within `keep_m`
        of the user."""
        src, client = int(tick.server[i]), int(tick.user_code[i])
        held = view.held_by(client) - {src, *targets}
        if held:
            here = np.array([tick.x[i], tick.y[i]])
            for s in sorted(held):
                d = self._sites[s] - here
                if d[0] * d[0] + d[1] * d[1] <= self.keep_m ** 2:
                    out.append(Migrate(client, src, s, ()))
