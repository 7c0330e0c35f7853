"""Three tiers (clients, edge servers, cloud servers): link rates per tier pair, slots per node, cloud queue.

The local-edge-cloud papers describe their systems by tier: a bandwidth for every pair of tiers, where 0 means
"not connected" (EosDNN Eq. 2: clients are not connected to each other), parallel slots per node (EosDNN's
pools: client 1, edge 2, cloud 8) and a bounded queue at the cloud (S3: capacity 20). `TierSpec` holds them;
`compute` says how the backends share a server among queries: ``"slots"`` (those slots and the cloud
queue, emulator.sim.slotqueries and the net edge agent) or ``"shared"`` (processor sharing, as without
tiers). `LINK_PRESETS` are the papers' matrices (S0's 10 / 0.5 / 0.5 / 5 / 10 MB/s, and EosDNN's sentence read
literally). `apply_tiers` writes a spec onto a backhaul graph: server-to-server links (and the switches and
relays between servers) get the edge-edge rate, links to a cloud node the edge-cloud rate, cloud nodes are
joined pairwise at the cloud-cloud rate (no link where it is 0), the access link gets the client-edge rate,
and ``G.graph["tiers"]`` records the whole spec (client-cloud: a direct client path, or 0 = none) for the
backends and planners.

What it leaves to others: building the graph (backhaul.py), running tasks on slots (emulator.sim.slots), the
EosDNN delay model (emulator.planning.eosdnn, which takes its matrices from here).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from edgeroam.errors import TopologyError

__all__ = ["COMPUTE", "LINK_PRESETS", "MB", "PAIRS", "TIERS", "TierSpec", "apply_tiers", "node_slots",
           "slot_tiers"]

#: the tiers, in node-id order
TIERS = ("client", "edge", "cloud")
#: every unordered tier pair, as ``"a-b"`` keys
PAIRS = tuple(f"{a}-{b}" for a, b in itertools.combinations_with_replacement(TIERS, 2))
#: how a server shares its compute among queries: its tier's slots (FIFO, bounded cloud queue) or processor
#: sharing (PerDNN's default)
COMPUTE = ("slots", "shared")
#: bytes per "MB" (EosDNN's and S0's sizes and rates are MiB)
MB = 2.0**20
#: MB/s per tier pair; 0 = not connected
LINK_PRESETS: dict[str, dict[str, float]] = {
    "s0": {"client-edge": 10.0, "client-cloud": 0.5, "edge-cloud": 0.5, "cloud-cloud": 5.0, "edge-edge": 10.0,
           "client-client": 0.0},
    "literal": {"client-edge": 10.0, "client-cloud": 0.5, "edge-cloud": 5.0, "cloud-cloud": 5.0,
                "edge-edge": 10.0, "client-client": 0.0},
}


def _pair(key: str) -> str:
    """The canonical ``"a-b"`` of a pair key in either order; TopologyError for anything else."""
    parts = key.split("-")
    if len(parts) == 2 and all(p in TIERS for p in parts):
        a, b = sorted(parts, key=TIERS.index)
        return f"{a}-{b}"
    raise TopologyError(f"unknown tier pair {key!r}; pairs are {', '.join(PAIRS)}")


@dataclass(frozen=True)
class TierSpec:
    """Rates per tier pair (MB/s, 0 = not connected), slots per tier, the cloud's queue capacity.

    Examples
    --------
    >>> s = TierSpec.from_preset("s0")
    >>> s.mb_per_s("cloud-edge"), s.connected("client-client"), float(s.matrix_bps()[0, 1] / MB)
    (0.5, False, 10.0)
    """

    links: Mapping[str, float]
    slots: Mapping[str, int] = field(default_factory=lambda: {"client": 1, "edge": 2, "cloud": 8})
    cloud_queue: int | None = 20
    compute: str = "slots"

    def __post_init__(self) -> None:
        links = {_pair(k): float(v) for k, v in self.links.items()}
        missing = [p for p in PAIRS if p not in links]
        if missing:
            raise TopologyError(f"tier links lack {', '.join(missing)} (MB/s; 0 = not connected)")
        bad = [p for p, v in links.items() if not (np.isfinite(v) and v >= 0)]
        if bad:
            raise TopologyError(f"tier link {bad[0]} must be a finite rate >= 0 MB/s, got {links[bad[0]]!r}")
        slots = dict(self.slots)
        if set(slots) != set(TIERS) or any(int(v) != v or v < 1 for v in slots.values()):
            raise TopologyError(f"tier slots need client, edge and cloud, each a whole number >= 1; "
                                f"got {slots}")
        if self.compute not in COMPUTE:
            raise TopologyError(f"tier compute must be one of {', '.join(COMPUTE)}, got {self.compute!r}")
        q = self.cloud_queue
        if q is not None and (int(q) != q or q < 1):
            raise TopologyError(f"cloud_queue must be a whole number >= 1 or None, got {self.cloud_queue!r}")
        object.__setattr__(self, "links", links)
        object.__setattr__(self, "slots", {k: int(v) for k, v in slots.items()})

    @classmethod
    def from_preset(cls, links: str | Mapping[str, float], **kw: object) -> TierSpec:
        """A spec from a preset name (`LINK_PRESETS`) or a mapping, with pairs overridden by name."""
        if isinstance(links, str):
            if links not in LINK_PRESETS:
                raise TopologyError(f"unknown tier link preset {links!r}; "
                                    f"choose one of {sorted(LINK_PRESETS)}")
            links = LINK_PRESETS[links]
        return cls(dict(links), **kw)  # type: ignore[arg-type]

    def mb_per_s(self, pair: str) -> float:
        """Rate of a tier pair in MB/s (either order)."""
        return self.links[_pair(pair)]

    def connected(self, pair: str) -> bool:
        """Whether two tiers have a link."""
        return self.mb_per_s(pair) > 0

    def matrix_bps(self) -> np.ndarray:
        """[3, 3] bytes per second between tiers in `TIERS` order (0 = not connected)."""
        m = np.zeros((3, 3))
        for key, v in self.links.items():
            a, b = (TIERS.index(t) for t in key.split("-"))
            m[a, b] = m[b, a] = v * MB
        return m

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (what ``G.graph["tiers"]`` holds)."""
        return {"links_mb_per_s": dict(self.links), "slots": dict(self.slots),
                "cloud_queue": self.cloud_queue, "compute": self.compute}


def apply_tiers(G: nx.Graph, spec: TierSpec) -> nx.Graph:
    """Set `G`'s link rates by tier, in place; return `G` (the module docstring says which link gets what).

    A cloud-cloud rate of 0 leaves the clouds joined only through the backhaul; an edge-edge or edge-cloud
    rate of 0 is refused (the backhaul graph would fall apart).
    """
    for pair in ("edge-edge", "edge-cloud", "client-edge"):
        if not spec.connected(pair):
            raise TopologyError(f"tier link {pair} is 0: the backhaul needs it (only client-client, "
                                f"client-cloud and cloud-cloud may be 'not connected')")
    to_bps = 8 * MB
    clouds = sorted(n for n, d in G.nodes(data=True) if d.get("kind") == "cloud")
    for u, v, d in G.edges(data=True):
        cu, cv = (G.nodes[n].get("kind") == "cloud" for n in (u, v))
        pair = "edge-cloud" if cu != cv else "cloud-cloud" if cu else "edge-edge"
        d["capacity_bps"] = spec.mb_per_s(pair) * to_bps
        d["tier_pair"] = pair
    if spec.connected("cloud-cloud"):
        delay = min((d["delay_s"] for _, _, d in G.edges(clouds, data=True)), default=0.0)
        for a, b in itertools.combinations(clouds, 2):
            G.add_edge(a, b, capacity_bps=spec.mb_per_s("cloud-cloud") * to_bps, delay_s=delay,
                       klass="wan", length_m=float("nan"), tier_pair="cloud-cloud")
    access = dict(G.graph.get("access", {}))
    access["up_bps"] = access["down_bps"] = spec.mb_per_s("client-edge") * to_bps
    G.graph["access"] = access
    G.graph["tiers"] = spec.as_dict()
    return G


def slot_tiers(graph: nx.Graph) -> dict[str, Any] | None:
    """The tier spec (``G.graph["tiers"]``) of a backhaul whose servers compute on slots; None otherwise."""
    spec = graph.graph.get("tiers")
    return spec if spec is not None and spec.get("compute") == "slots" else None


def node_slots(topology: Any, server: int, spec: Mapping[str, Any]) -> tuple[int, int | None]:
    """Slots and queue capacity (None: unbounded) of `server` of a `Topology` under tier spec `spec`."""
    tiers = topology.servers.set_index("server")["tier"]
    tier = str(tiers.get(server, "edge"))
    return int(spec["slots"][tier]), (spec.get("cloud_queue") if tier == "cloud" else None)
