"""Scenario files: pydantic models of DESIGN.md §4, TOML loading, presets and ``--set key.path=value``
overrides.

A scenario is read in three layers, later ones winning: the preset of its dataset kind (`PRESETS`, e.g. the
PerDNN KAIST region, interval and test-user count), the TOML file, then the command-line overrides. Every
model forbids unknown keys. Any problem becomes a `ScenarioError` naming the file and the dotted key, never a
pydantic traceback. Building the world from a scenario is left to edgeroam.topology.build and the emulator.
"""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from edgeroam.errors import ScenarioError

__all__ = [
    "PRESETS",
    "AccessConfig",
    "BackhaulConfig",
    "CloudConfig",
    "DatasetConfig",
    "DnnConfig",
    "PolicyConfig",
    "PredictorConfig",
    "RunConfig",
    "Scenario",
    "SplitConfig",
    "SyntheticConfig",
    "TopologyConfig",
    "WindowConfig",
    "apply_overrides",
    "load_scenario",
    "resolve_scenario",
    "scenario_from_dict",
    "scenario_names",
    "scenario_to_toml",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class SplitConfig(_Model):
    """Which users are replayed (the test set); the rest train the predictors."""

    test_users: int | float | None = Field(
        None, description="number (int) or fraction (float in (0, 1)) of test users; None = all users"
    )
    seed: int = Field(7, description="seed of the user split")


class SyntheticConfig(_Model):
    """Parameters of the synthetic traces (dataset.kind = 'synthetic')."""

    kind: Literal["levy", "rwp"] = "levy"
    users: int = Field(20, ge=1)
    duration_s: float = Field(3600.0, gt=0)
    interval_s: float = Field(30.0, gt=0)
    area_m: tuple[float, float] = (1500.0, 2000.0)
    seed: int = 0


ColumnRole = Literal["user", "t", "lat", "lon", "x", "y", "traj", "mode"]
#: the keys of [dataset] that only the readers of your own data take, left out of a dump at None
_OWN_KEYS = ("columns", "crs", "timezone", "user_per", "coords")


class DatasetConfig(_Model):
    """Where the traces come from and how they are cut and resampled."""

    kind: Literal["geolife", "kaist", "synthetic", "table", "gpx", "sumo"] = "synthetic"
    root: str | None = Field(
        None, description="dataset folder or zip; None = the default root (table, gpx, sumo: required)"
    )
    region: str | None = Field(None, description="region preset name (edgeroam.datasets.regions)")
    interval_s: float | None = Field(None, gt=0, description="resampling interval t in seconds")
    max_gap_s: float | None = Field(None, gt=0, description="a gap longer than this starts a new trajectory")
    split: SplitConfig = SplitConfig()
    synthetic: SyntheticConfig = SyntheticConfig()
    time_align: Literal["absolute", "day", "start"] = Field(
        "absolute",
        description="replay time: absolute, every trajectory folded onto one day (client = user-day), or "
        "every trajectory from t = 0 (client = user-trajectory); edgeroam.mobility.align",
    )
    day_start_h: float = Field(
        0.0, ge=0, lt=24, description="time_align = 'day': UTC hour at which an aligned day starts"
    )
    columns: dict[ColumnRole, str] | None = Field(
        None, description="table: role -> column name (user and t required; lat/lon, or x/y with crs)"
    )
    crs: str | None = Field(None, description="table: the CRS of the x/y columns (None: a local frame)")
    timezone: str | None = Field(
        None, description="table, gpx: IANA time zone of times written without an offset (None: UTC)"
    )
    user_per: Literal["file", "track"] | None = Field(None, description="gpx: one user per file or track")
    coords: Literal["auto", "xy", "lonlat"] | None = Field(
        None, description="sumo: x/y are metres or lon/lat (auto: as the FCD file's header says)"
    )

    @model_validator(mode="after")
    def _own_data(self) -> DatasetConfig:
        own = {"table": ("columns", "crs", "timezone"), "gpx": ("user_per", "timezone"), "sumo": ("coords",)}
        if self.kind in own and not self.root:
            raise ValueError(f"kind {self.kind!r} reads your own files: set dataset.root to their path")
        allowed = own.get(self.kind, ())
        for key in _OWN_KEYS:
            if getattr(self, key) is not None and key not in allowed:
                raise ValueError(f"{key!r} applies to kind {', '.join(k for k in own if key in own[k])}, "
                                 f"not {self.kind!r}")
        if self.columns is not None and not {"user", "t"} <= set(self.columns):
            raise ValueError("columns needs at least user and t (e.g. { user = 'id', t = 'time', ... })")
        return self

    def reader_options(self) -> dict[str, Any]:
        """The options of this kind's reader (edgeroam.datasets.load.READER_OPTIONS), unset ones left out."""
        out = {key: getattr(self, key) for key in _OWN_KEYS if getattr(self, key) is not None}
        if self.kind == "table" and self.max_gap_s is not None:
            out["max_gap_s"] = self.max_gap_s
        return out

    @model_serializer(mode="wrap")
    def _drop_default_align(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # left out at their defaults: resolved scenarios (run hashes) from before the option stay the same
        out = handler(self)
        for key in _OWN_KEYS:
            if out.get(key) is None:
                out.pop(key, None)
        if out.get("time_align") == "absolute":
            out.pop("time_align")
        if out.get("day_start_h") == 0.0:
            out.pop("day_start_h")
        return out


class CloudConfig(_Model):
    """Optional cloud node(s) behind a WAN link (local-edge-cloud papers)."""

    enabled: bool = False
    count: int = Field(1, ge=1)
    wan_mbps: float = Field(100.0, gt=0)
    wan_delay_ms: float = Field(20.0, ge=0)
    profile: str = "cloud-gpu"


class BackhaulConfig(_Model):
    """Shape and capacities of the edge backhaul (topology/backhaul.py)."""

    shape: Literal["mesh", "tree", "star"] = "mesh"
    link: Literal["wireless", "fibre"] = Field(
        "wireless", description="class of server-to-server / access links"
    )
    wireless_mbps: float = Field(100.0, gt=0)
    fibre_mbps: float = Field(1000.0, gt=0)
    wireless_delay_ms: float = Field(2.0, ge=0)
    fibre_delay_ms: float = Field(0.5, ge=0)
    cluster_cells: int = Field(7, ge=1, description="tree: about this many cells per aggregation switch")
    master: bool = Field(False, description="add a master node (kind 'master') next to the core/gateway")
    cloud: CloudConfig = CloudConfig()
    unlimited: bool = Field(
        False, description="sim only: backhaul links of 1 Pbit/s (UNLIMITED_MBPS), so the traffic carried is "
        "the demand (PerDNN reports demand without a capacity)")

    @model_serializer(mode="wrap")
    def _drop_default_unlimited(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # left out at its default: resolved scenarios (run hashes) from before the option stay the same
        out = handler(self)
        if out.get("unlimited") is False:
            out.pop("unlimited")
        return out


class AccessConfig(_Model):
    """Wi-Fi access link between a client and the server of its cell (PerDNN: 50/35 Mbps)."""

    down_mbps: float = Field(50.0, gt=0)
    up_mbps: float = Field(35.0, gt=0)
    delay_ms: float = Field(1.0, ge=0)


class TiersConfig(_Model):
    """Clients, edge and cloud servers as three tiers (edgeroam.topology.tiers): pair rates, slots, queue."""

    links: str = Field("s0", description="rate preset per tier pair: s0 (10/0.5/0.5/5/10 MB/s) or literal")
    rates: dict[str, float] = Field(
        default_factory=dict, description="MB/s per pair over the preset, e.g. {'edge-cloud' = 5.0}; 0 = not "
        "connected (client-client, client-cloud, cloud-cloud only)")
    slots: dict[str, int] = Field(
        default_factory=lambda: {"client": 1, "edge": 2, "cloud": 8},
        description="tasks a node runs at once per tier (EosDNN: 1 / 2 / 8); the rest wait FIFO")
    cloud_queue: int | None = Field(
        20, ge=1, description="tasks waiting at a cloud before their senders block (S3); None = unbounded")
    compute: Literal["slots", "shared"] = Field(
        "slots", description="how a server runs its clients' queries: its tier's slots with FIFO waiting and "
        "the bounded cloud queue, or processor sharing as without tiers (both backends)")

    @model_serializer(mode="wrap")
    def _drop_default_compute(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # left out at its default: resolved scenarios (run hashes) from before the key stay the same
        out = handler(self)
        if out.get("compute") == "slots":
            out.pop("compute")
        return out

    @model_validator(mode="after")
    def _valid(self) -> TiersConfig:
        from edgeroam.errors import TopologyError

        try:
            spec = self.spec()
        except TopologyError as exc:
            raise ValueError(str(exc)) from None
        if any(spec.mb_per_s(p) == 0 for p in ("edge-edge", "edge-cloud", "client-edge")):
            raise ValueError("edge-edge, edge-cloud and client-edge need a rate > 0 (backhaul and access)")
        return self

    def spec(self):  # noqa: ANN201 - a TierSpec (imported lazily: topology sits above this module)
        """The `TierSpec` of this table (TopologyError names a bad preset, pair or value)."""
        from edgeroam.topology.tiers import LINK_PRESETS, TierSpec

        if self.links not in LINK_PRESETS:
            return TierSpec.from_preset(self.links)  # raises: unknown preset
        return TierSpec.from_preset({**LINK_PRESETS[self.links], **self.rates}, slots=self.slots,
                                    cloud_queue=self.cloud_queue, compute=self.compute)


class TopologyConfig(_Model):
    """Hex grid and edge servers."""

    radius_m: float = Field(50.0, gt=0, description="cell circumradius R")
    orientation: Literal["pointy", "flat"] = "pointy"
    origin: tuple[float, float] | None = Field(None, description="centre of cell (0, 0); None = (0, 0)")
    servers: Literal["visited", "region", "file"] = "visited"
    servers_of: Literal["all", "test"] = Field(
        "all", description="visited: cells visited by any user ('all', PerDNN) or by the test users only"
    )
    servers_file: str | None = Field(None, description="CSV (x,y or q,r) or GeoJSON points; servers = 'file'")
    profile: str = Field("titan-xp", description="compute profile of every edge server")
    backhaul: BackhaulConfig = BackhaulConfig()
    access: AccessConfig = AccessConfig()
    tiers: TiersConfig | None = Field(
        None, description="three tiers: the pair rates replace the access and backhaul rates (client-edge, "
        "edge-edge, edge-cloud), cloud servers are joined at cloud-cloud; servers compute on their tier's "
        "slots (compute)")

    @model_validator(mode="after")
    def _file_needs_path(self) -> TopologyConfig:
        if self.servers == "file" and not self.servers_file:
            raise ValueError("servers = 'file' needs servers_file")
        return self

    @model_validator(mode="after")
    def _tier_rates(self) -> TopologyConfig:
        # the planner and the sim read the access rates from here: keep them those of the tiers
        if self.tiers is not None:
            mbit = self.tiers.spec().mb_per_s("client-edge") * 2**20 * 8 / 1e6
            self.access.up_mbps = self.access.down_mbps = mbit
        return self

    @model_serializer(mode="wrap")
    def _drop_no_tiers(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # left out when unset: resolved scenarios (run hashes) from before the option stay the same
        out = handler(self)
        if out.get("tiers") is None:
            out.pop("tiers", None)
        return out


class DnnConfig(_Model):
    """The DNN every client runs and the devices that run it."""

    model: str = Field("inception", description="zoo name (mobilenet | inception | resnet50 | …)")
    client: str = Field("odroid-xu4", description="client device preset or 'measure'")
    server: str = Field("titan-xp", description="edge server device preset")
    query_gap_s: float = Field(0.5, ge=0, description="think time after each query (closed loop)")
    execution: Literal["profile", "torch"] = "profile"
    server_layers: Literal["plan", "all"] = Field(
        "plan", description="what a server must hold: the best partition's server-side layers ('plan'), or "
        "every layer of the model ('all': the whole model is uploaded and migrated, as PerDNN's Table II "
        "upload times imply); queries still use the best placement of what is held")

    @model_serializer(mode="wrap")
    def _drop_default_layers(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # left out at its default: resolved scenarios (run hashes) from before the option stay the same
        out = handler(self)
        if out.get("server_layers") == "plan":
            out.pop("server_layers")
        return out


class PredictorConfig(_Model):
    """Mobility predictor."""

    kind: str = Field("svr", description="markov | svr | lstm | stay | velocity")
    history: int = Field(5, ge=1, description="n most recent positions")
    top_k: int = Field(2, ge=1)
    params: dict[str, int | float | str | bool] = Field(default_factory=dict, description="hyperparameters")


class PolicyConfig(_Model):
    """Migration policy: `kind` (an alias) and the policy's parameters. Keys beyond the ones listed here are
    parameters too (``targets``, ``relay``, …: `edgeroam.emulator.policies.TargetPolicy`); the policy
    rejects the ones it does not know, naming ``policy.<key>``."""

    model_config = ConfigDict(extra="allow", validate_default=True)

    kind: str = Field("perdnn", description="perdnn | fractional | ionn | optimal | oracle | …")
    radius_m: float = Field(100.0, ge=0, description="migrate to every server within r of the prediction")
    ttl_intervals: int = Field(5, ge=0, description="lifetime of received layers in intervals (0: no expiry)")
    server_plans: int | None = Field(
        None, ge=1, description="per-server cap on held client plans; the least recently used are evicted")
    fraction_mb: float | None = Field(None, ge=0, description="fractional migration budget in MB")
    crowded_fraction: float = Field(0.06, ge=0, le=1, description="share of servers treated as crowded")


class WindowConfig(_Model):
    """A slice of the dataset (a box and a time span) that a run replays, so that a net run fits one machine
    (DESIGN §7; `edgeroam.mobility.slicing`): every trace is cut to the box, the test users to the span,
    and at most `clients` of them (the busiest first) are replayed. The span is ``[start, end)`` or the
    `busiest_s` seconds with the most test users."""

    region: str | None = Field(
        None, description="box of the window: a region preset, 'metric:minx,miny,maxx,maxy' or "
        "'lonlat:minlon,minlat,maxlon,maxlat'; None = no spatial cut")
    start: float | datetime | None = Field(
        None, description="start of the span: seconds like the traces' t, or a TOML date-time (UTC if no "
        "offset)")
    end: float | datetime | None = Field(None, description="end of the span (exclusive), as start")
    busiest_s: float | None = Field(
        None, gt=0, description="instead of start/end: the span of this many seconds with the most test "
        "users")
    clients: int = Field(10, ge=1, description="at most this many test users, the busiest first")

    @model_validator(mode="after")
    def _span(self) -> WindowConfig:
        for key in ("start", "end"):
            v = getattr(self, key)
            if isinstance(v, datetime):
                setattr(self, key, (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp())
        if self.busiest_s is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("give either busiest_s or start and end, not both")
        elif self.start is None or self.end is None:
            raise ValueError("needs start and end, or busiest_s (the busiest span of that length)")
        elif not self.end > self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    @field_validator("region")
    @classmethod
    def _known_region(cls, v: str | None) -> str | None:
        if v is not None:
            from edgeroam.datasets.regions import get_region
            from edgeroam.errors import DatasetError

            try:
                get_region(v)
            except DatasetError as exc:
                raise ValueError(str(exc)) from None
        return v

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class RunConfig(_Model):
    """How a run executes."""

    backend: Literal["sim", "net"] = "sim"
    speed: float = Field(1.0, gt=0, description="net only: time compression factor")
    duration_s: float | None = Field(None, gt=0, description="cut the replay after this many seconds")
    out: str = "runs"
    switch: Literal["bridge", "ovs"] = Field(
        "bridge", description="net only: Linux bridges with static forwarding, or Open vSwitch (userspace "
        "datapath) driven by the os-ken controller")
    window: WindowConfig | None = Field(None, description="replay only this slice of the dataset")
    ovs_realtime: bool = Field(
        False, description="net, switch ovs: run ovs-vswitchd SCHED_RR while the network lives, so its one "
        "forwarding loop keeps the links' rates on a busy machine (docs/net.md)")

    @model_validator(mode="after")
    def _realtime_is_ovs(self) -> RunConfig:
        if self.ovs_realtime and self.switch != "ovs":
            raise ValueError("ovs_realtime applies to switch = 'ovs' only")
        return self

    @model_serializer(mode="wrap")
    def _drop_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # left out at their defaults: resolved scenarios (run hashes) from before the keys stay the same
        out = handler(self)
        if out.get("switch") == "bridge":
            out.pop("switch")
        if out.get("window") is None:
            out.pop("window", None)
        if out.get("ovs_realtime") is False:
            out.pop("ovs_realtime")
        return out


class Scenario(_Model):
    """A whole scenario (DESIGN.md §4)."""

    name: str
    description: str = ""
    seed: int = 7
    dataset: DatasetConfig = DatasetConfig()
    topology: TopologyConfig = TopologyConfig()
    dnn: DnnConfig = DnnConfig()
    predictor: PredictorConfig = PredictorConfig()
    policy: PolicyConfig = PolicyConfig()
    run: RunConfig = RunConfig()

    @model_validator(mode="after")
    def _unlimited_is_sim(self) -> Scenario:
        if self.topology.backhaul.unlimited and self.run.backend != "sim":
            raise ValueError("topology.backhaul.unlimited is a sim-only option: the net backend emulates "
                             "real links (set a finite wireless_mbps / fibre_mbps instead)")
        return self


#: defaults per dataset kind, applied under the file (the file wins)
PRESETS: dict[str, dict[str, Any]] = {
    "kaist": {
        "dataset": {
            "region": "perdnn-kaist",
            "interval_s": 30.0,
            "max_gap_s": 90.0,
            "split": {"test_users": 31, "seed": 7},
        },
    },
    "geolife": {
        "dataset": {
            "region": "perdnn-geolife",
            "interval_s": 20.0,
            "max_gap_s": 60.0,
            "split": {"test_users": 138 / 182, "seed": 7},
        },
    },
    "synthetic": {
        "dataset": {"interval_s": 30.0, "max_gap_s": 90.0, "split": {"test_users": None, "seed": 7}},
    },
    # your own data: a 30 s step like synthetic; a scenario sets its own (and its region)
    "table": {"dataset": {"interval_s": 30.0, "max_gap_s": 90.0}},
    "gpx": {"dataset": {"interval_s": 30.0, "max_gap_s": 90.0}},
    "sumo": {"dataset": {"interval_s": 10.0, "max_gap_s": 30.0}},
}


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parse_scalar(text: str) -> Any:
    """A TOML scalar (number, bool, quoted string, array, inline table); anything else is a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(
    data: dict[str, Any], overrides: list[str] | tuple[str, ...], path: str | Path | None = None
):
    """Return a copy of `data` with each ``key.path=value`` applied (value parsed as a TOML scalar)."""
    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(path, None, f"--set expects key.path=value, got {item!r}")
        parts = [p.strip() for p in key.split(".")]
        if not all(parts):
            raise ScenarioError(path, key, f"--set key has an empty part (--set {item})")
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ScenarioError(path, ".".join(parts[: i + 1]), f"is a value, not a table (--set {item})")
            node = child
        node[parts[-1]] = _parse_scalar(value.strip())
    return out


def _error_from_validation(exc: ValidationError, path: str | Path | None) -> ScenarioError:
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "value_error" and "error" in first.get("ctx", {}):
        msg = str(first["ctx"]["error"])
    if len(errors) > 1:
        rest = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in errors[1:4])
        msg += f" (also: {rest}{' …' if len(errors) > 4 else ''})"
    return ScenarioError(path, key, msg)


def scenario_from_dict(
    data: dict[str, Any], *, path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Scenario:
    """Validate a scenario dict: preset of its dataset kind, then `data`, then `overrides`.

    Errors name `path`, else the scenario by its name (a dict has no file).
    """
    if path is None and isinstance(data.get("name"), str):
        path = f"scenario {data['name']!r}"
    merged = apply_overrides(data, overrides, path)
    dataset = merged.get("dataset", {})  # no [dataset]: the synthetic default, preset included (round trips)
    kind = dataset.get("kind", "synthetic") if isinstance(dataset, dict) else None
    preset = PRESETS.get(kind, {}) if isinstance(kind, str) else {}
    merged = _deep_merge(preset, merged)
    if "name" not in merged and path is not None:
        merged["name"] = Path(path).stem
    try:
        scenario = Scenario.model_validate(merged)
    except ValidationError as exc:
        raise _error_from_validation(exc, path) from None
    _check_names(scenario, path)
    return scenario


def _check_names(sc: Scenario, path: str | Path | None) -> None:
    """Predictor kind and parameters and the DNN model must be known, so that a typo is reported with its
    file and key rather than deep inside a run."""
    from edgeroam.emulator.dnn.zoo import resolve_name
    from edgeroam.errors import PlanningError
    from edgeroam.predictors import PREDICTORS

    kind = sc.predictor.kind
    if kind not in PREDICTORS:
        raise ScenarioError(path, "predictor.kind",
                            f"unknown predictor {kind!r}; choose one of {', '.join(PREDICTORS)}")
    valid = PREDICTORS[kind]().get_params()
    unknown = sorted(set(sc.predictor.params) - set(valid))
    if unknown:
        raise ScenarioError(path, f"predictor.params.{unknown[0]}",
                            f"not a parameter of {kind} (valid: {', '.join(sorted(valid))})")
    try:
        resolve_name(sc.dnn.model)
    except PlanningError as exc:
        raise ScenarioError(path, "dnn.model", str(exc)) from None


def _scenario_dirs() -> list[Path]:
    """Where scenario names are looked up: ``./scenarios``, then the ``scenarios/`` shipped beside the
    package."""
    shipped = Path(__file__).resolve().parents[1] / "scenarios"
    here = Path("scenarios")
    return [here] if here.resolve() == shipped else [here, shipped]


def scenario_names() -> list[str]:
    """The scenario names `resolve_scenario` knows (sorted, each once)."""
    return sorted({p.stem for d in _scenario_dirs() if d.is_dir() for p in d.glob("*.toml")})


def resolve_scenario(name_or_path: str | Path) -> Path:
    """The TOML file of a scenario given as a path or as a name (``perdnn-kaist``: ``scenarios/<name>.toml``
    in the working directory, else the one shipped beside the package).

    Raises
    ------
    ScenarioError
        Neither a file nor a known name; the message lists the known names.

    Examples
    --------
    >>> resolve_scenario("perdnn-kaist").name
    'perdnn-kaist.toml'
    """
    p = Path(name_or_path)
    if p.is_file():
        return p
    if len(p.parts) == 1 and p.suffix in ("", ".toml"):
        for d in _scenario_dirs():
            candidate = d / f"{p.stem}.toml"
            if candidate.is_file():
                return candidate
        known = ", ".join(scenario_names()) or "none"
        raise ScenarioError(p, None, f"file not found, and not a scenario name (known names: {known})")
    if p.exists():
        raise ScenarioError(p, None, "not a file")
    raise ScenarioError(p, None, "file not found")


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read and validate a scenario TOML file, given by path or by name (`resolve_scenario`).

    Relative ``dataset.root`` and ``topology.servers_file`` are resolved against the file's folder. The name
    defaults to the file's stem.

    Raises
    ------
    ScenarioError
        Missing file, bad TOML, an unknown key or a wrong type; the message names the file and the dotted key.
    """
    p = resolve_scenario(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(p, None, "file not found") from None
    except OSError as exc:
        raise ScenarioError(p, None, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(p, None, f"not UTF-8 text (byte {exc.start}); a scenario is TOML") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(p, None, f"invalid TOML: {exc}") from None
    scenario = scenario_from_dict(data, path=p, overrides=overrides)
    base = p.resolve().parent
    ds = scenario.dataset
    if ds.root and not Path(ds.root).expanduser().is_absolute():
        ds.root = str((base / ds.root).resolve())
    topo = scenario.topology
    if topo.servers_file and not Path(topo.servers_file).expanduser().is_absolute():
        topo.servers_file = str((base / topo.servers_file).resolve())
    return scenario


def scenario_to_toml(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML (None values are left out, as TOML has no null)."""
    import tomli_w

    def drop_none(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: drop_none(x) for k, x in v.items() if x is not None}
        if isinstance(v, tuple | list):
            return [drop_none(x) for x in v]
        return v

    return tomli_w.dumps(drop_none(scenario.model_dump(mode="json")))
