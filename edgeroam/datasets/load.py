"""One call from a dataset name to a ready Traces table: reader → cache → projection → region → resampling.

`default_root` finds the data (``$EDGEROAM_DATA``, else the shared traces beside the repository);
`load_dataset` composes the readers (`geolife`, `kaist`, `synthetic`, and for your own data `table`, `gpx`,
`sumo`, whose options come in ``reader``), the Parquet cache, `project`,
the region filter and `resample`; `describe_dataset` adds `dataset_info` for ``edgeroam datasets info``.
Parsing, caching and the statistics themselves are left to those modules.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgeroam.errors import DatasetError

if TYPE_CHECKING:  # the heavy modules are imported where used: a warm `datasets info` needs none of them
    import numpy as np
    import pandas as pd

    from edgeroam.datasets._columns import TraceColumns
    from edgeroam.datasets.regions import Region

__all__ = [
    "DATASET_KINDS",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_REGION",
    "OWN_KINDS",
    "READER_OPTIONS",
    "cache_dir",
    "dataset_sources",
    "default_root",
    "describe_dataset",
    "load_dataset",
    "read_counts",
]

Kind = Literal["geolife", "kaist", "synthetic", "table", "gpx", "sumo"]
DATASET_KINDS: tuple[str, ...] = ("geolife", "kaist", "synthetic", "table", "gpx", "sumo")
#: The kinds read from a user's own files: ``root`` is required, options come in ``reader``.
OWN_KINDS: tuple[str, ...] = ("table", "gpx", "sumo")
#: The ``reader`` options each of them takes.
READER_OPTIONS: dict[str, tuple[str, ...]] = {
    "table": ("columns", "crs", "timezone", "max_gap_s"),
    "gpx": ("user_per", "timezone"),
    "sumo": ("coords",),
}
#: PerDNN's resampling interval per dataset (20 s Geolife, KAIST's native 30 s); synthetic: its own step.
DEFAULT_INTERVAL_S: dict[str, float] = {"geolife": 20.0, "kaist": 30.0, "synthetic": 30.0}
#: The region `datasets info` uses when none is given.
DEFAULT_REGION: dict[str, str] = {
    "geolife": "perdnn-geolife",
    "kaist": "perdnn-kaist",
    "synthetic": "synthetic",
}
_GEOLIFE_ZIP = "geolife_perdnn_box.zip"
_REPO = Path(__file__).resolve().parents[2]


def _check_kind(kind: str) -> None:
    """Raise DatasetError for a kind no reader handles."""
    if kind not in DATASET_KINDS:
        raise DatasetError(f"unknown dataset {kind!r}; use one of {', '.join(DATASET_KINDS)}")


def default_root(kind: str = "geolife") -> Path:
    """The folder holding the traces: ``$EDGEROAM_DATA``, else ``<repo>/../shared/traces`` if it exists.

    Raises
    ------
    DatasetError
        When neither exists (the message says to pass ``--root`` or run ``edgeroam datasets fetch``).
    """
    _check_kind(kind)
    if kind in OWN_KINDS:
        raise DatasetError(
            f"dataset {kind!r} reads your own files: give their path (--root PATH, or dataset.root)"
        )
    env = os.environ.get("EDGEROAM_DATA")
    if env:
        path = Path(env).expanduser()
        if not path.exists():
            raise DatasetError(f"EDGEROAM_DATA points to {path}, which does not exist")
        return path
    shared = _REPO.parent / "shared" / "traces"
    if shared.is_dir():
        return shared
    raise DatasetError(
        f"no {kind} data found: pass --root PATH (or set EDGEROAM_DATA), "
        f"or run `edgeroam datasets fetch {kind}`"
    )


def cache_dir() -> Path:
    """Where the Parquet cache lives: ``$EDGEROAM_CACHE``, else ``<repo>/.cache/datasets``."""
    env = os.environ.get("EDGEROAM_CACHE")
    return Path(env).expanduser() if env else _REPO / ".cache" / "datasets"


def _geolife_source(root: Path) -> Path:
    if root.is_file():
        return root
    if not root.is_dir():
        raise DatasetError(f"Geolife root {root} does not exist")
    if (root / _GEOLIFE_ZIP).is_file():
        return root / _GEOLIFE_ZIP
    if (root / "Geolife Trajectories 1.3").is_dir() or (root / "Data").is_dir() or root.name == "Data":
        return root
    zips = sorted(p for p in root.glob("*.zip") if "geolife" in p.name.lower())
    if zips:
        return zips[0]
    raise DatasetError(
        f"no Geolife data under {root}: expected {_GEOLIFE_ZIP}, a Geolife zip, or a "
        "'Geolife Trajectories 1.3' folder (run `edgeroam datasets fetch geolife --dest DIR`)"
    )


def _kaist_source(root: Path) -> Path:
    if not root.is_dir():
        raise DatasetError(f"KAIST root {root} is not a folder")
    return root / "kaist" if (root / "kaist").is_dir() else root


def dataset_sources(
    kind: str, root: Path | str | None = None, *, site: str = "KAIST"
) -> tuple[Path, list[Path]]:
    """The path handed to the reader and the files whose size and mtime key the cache."""
    _check_kind(kind)
    if kind == "synthetic":
        return Path("synthetic"), []
    base = Path(root).expanduser() if root is not None else default_root(kind)
    if kind in OWN_KINDS:
        return base, _own_files(kind, base)
    if kind == "geolife":
        src = _geolife_source(base)
        files = [src] if src.is_file() else sorted(src.rglob("*.plt")) + sorted(src.rglob("labels.txt"))
    else:
        src = _kaist_source(base)
        pattern = f"{site}_30sec_*.txt"
        files = sorted(src.glob(pattern)) + sorted(src.glob(f"{site}/{pattern}"))
    if not files:
        raise DatasetError(f"no {kind} trace files found under {src}")
    return src, files


def _own_files(kind: str, base: Path) -> list[Path]:
    """The files of a table, GPX or SUMO source (they key the cache)."""
    if kind == "table":
        from edgeroam.datasets.table import table_files

        return table_files(base)
    if kind == "gpx":
        from edgeroam.datasets.gpx import gpx_files

        return gpx_files(base)
    if not base.is_file():
        raise DatasetError(f"{base}: no such file (a SUMO FCD file, .xml or .xml.gz, or a .sumocfg to run)")
    return sorted(p for p in base.parent.iterdir() if p.is_file()) if base.suffix == ".sumocfg" else [base]


def _check_reader(kind: str, reader: dict[str, Any] | None) -> dict[str, Any]:
    options = {k: v for k, v in (reader or {}).items() if v is not None}
    allowed = READER_OPTIONS.get(kind, ())
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no reader options"
        raise DatasetError(f"dataset {kind!r} {takes}; got {unknown[0]!r}")
    return options


def _build_own(kind: str, src: Path, options: dict[str, Any], lenient: bool) -> Callable[[], pd.DataFrame]:
    """The reader call of a table, GPX or SUMO source (a .sumocfg is simulated into the cache first)."""
    if kind == "table":
        from edgeroam.datasets.table import read_table

        return lambda: read_table(src, options.get("columns"), crs=options.get("crs"),
                                  timezone=options.get("timezone"), max_gap_s=options.get("max_gap_s"),
                                  lenient=lenient)
    if kind == "gpx":
        from edgeroam.datasets.gpx import read_gpx

        return lambda: read_gpx(src, user_per=options.get("user_per", "file"),
                                timezone=options.get("timezone"), lenient=lenient)
    from edgeroam.datasets.sumo import read_fcd, simulate

    coords = options.get("coords", "auto")
    if src.suffix != ".sumocfg":
        return lambda: read_fcd(src, coords=coords, lenient=lenient)

    def run_then_read() -> pd.DataFrame:
        from edgeroam.datasets.cache import cache_key

        key = cache_key("sumo-run", [src.parent], {"config": src.name, "geo": coords == "lonlat"}) or "x"
        fcd = simulate(src, cache_dir() / f"sumo-run-{key[:24]}", geo=coords == "lonlat")
        traces = read_fcd(fcd, coords=coords, lenient=lenient)
        traces.attrs["source"] = f"{src} (simulated: {fcd})"
        return traces

    return run_then_read


def _read(
    kind: str,
    root: Path | str | None,
    *,
    cache: bool,
    lenient: bool,
    site: str,
    reader: dict[str, Any] | None = None,
    xy: bool = False,
) -> pd.DataFrame:
    """The reader's table (through the parsed-files cache with `cache`); Geolife's projected with `xy`."""
    src, files = dataset_sources(kind, root, site=site)
    if kind in OWN_KINDS:
        own = _check_reader(kind, reader)
        options: dict[str, Any] = {"source": str(src), "lenient": lenient, **own}
        build = _build_own(kind, src, own, lenient)
    elif kind == "geolife":
        from edgeroam.datasets.geolife import read_geolife

        options = {"source": str(src), "labels": True, "lenient": lenient, **({"xy": True} if xy else {})}

        def build() -> pd.DataFrame:
            return read_geolife(src, labels=True, lenient=lenient, xy=xy)
    else:
        from edgeroam.datasets.kaist import read_kaist

        options = {"source": str(src), "site": site, "lenient": lenient}

        def build() -> pd.DataFrame:
            return read_kaist(src, site=site, lenient=lenient)

    if not cache:
        return build()
    from edgeroam.datasets.cache import cached_read

    return cached_read(kind, files, options, build, cache_dir=cache_dir(), enabled=True)


def resolve_region(kind: str, region: Region | str | None, traces: pd.DataFrame) -> Region | None:
    """The Region for `region` ("default": the dataset's preset); KAIST's perdnn-kaist comes from the data."""
    if region is None:
        return None
    if isinstance(region, str) and region == "default":
        if kind not in DEFAULT_REGION:
            return None
        region = DEFAULT_REGION[kind]
    from edgeroam.datasets.regions import get_region

    if region == "perdnn-kaist" and kind == "kaist":
        return get_region("perdnn-kaist", traces)
    return get_region(region)


def _region_key(region: Region | str | None) -> Any:
    """What of `region` keys the cache: a name or spec as given, a Region by its frame and polygon."""
    if region is None or isinstance(region, str):
        return region
    from edgeroam.datasets.regions import Region

    if isinstance(region, Region):
        return {"name": region.name, "frame": region.frame, "wkt": region.polygon.wkt}
    return region


def _num(value: float | None) -> float | None:
    """A number as a float in a cache key (20 and 20.0 give the same table, so the same entry)."""
    return None if value is None else float(value)


def load_dataset(
    kind: Kind | str,
    root: Path | str | None = None,
    *,
    region: Region | str | None = None,
    interval_s: float | None = None,
    max_gap_s: float | None = None,
    cache: bool = True,
    lenient: bool = False,
    site: str = "KAIST",
    synthetic: dict[str, Any] | None = None,
    reader: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Load a dataset as a projected Traces table, optionally cut to a region and resampled.

    Parameters
    ----------
    kind : {"geolife", "kaist", "synthetic", "table", "gpx", "sumo"}
    root : path, optional
        Folder (or Geolife zip) with the data; default `default_root`. For table, gpx and sumo: the file or
        folder (sumo: an FCD file, or a ``.sumocfg`` that is run first); required.
    region : Region or str, optional
        Keep only points inside (preset, box spec, or "default" for the dataset's PerDNN region).
        ``perdnn-kaist`` on KAIST is derived from the loaded data (`kaist_rectangle`).
    interval_s : float, optional
        Resample to this step (`DEFAULT_INTERVAL_S` holds PerDNN's); leaving the region ends a trajectory.
    max_gap_s : float, optional
        Gap that starts a new trajectory when resampling; default 3 × interval_s.
    cache, lenient : bool
        Use the Parquet cache (the final table, keyed by the sources and every option above, over a cache of
        the parsed files); skip bad lines instead of failing.
    site : str
        KAIST-family site (KAIST, NCSU, NewYork, Orlando, Statefair).
    synthetic : dict, optional
        Keyword arguments of `synthetic_traces`.
    reader : dict, optional
        Options of the table, gpx and sumo readers (`READER_OPTIONS`; None values are ignored).

    Notes
    -----
    A table read from the cache holds Arrow's immutable memory, not copied: pandas refuses to write into it
    in place (``df.loc[...] = ...`` raises "assignment destination is read-only", pandas-dev/pandas#62144),
    so copy it first (``df = df.copy()``). New columns and operations that return new tables need no copy.
    """
    _check_kind(kind)

    def build(raw_cache: bool) -> pd.DataFrame:
        return _load(kind, root, region=region, interval_s=interval_s, max_gap_s=max_gap_s, cache=raw_cache,
                     lenient=lenient, site=site, synthetic=synthetic, reader=reader)

    if kind == "synthetic" or not cache:
        return build(cache)
    # the table the caller uses (projected, cut, resampled) is cached whole, so a warm load only reads it
    from edgeroam.datasets.cache import cached_read

    src, files = dataset_sources(kind, root, site=site)
    options = {"source": str(src), "lenient": lenient, "site": site, "reader": reader or {},
               "region": _region_key(region), "interval_s": _num(interval_s), "max_gap_s": _num(max_gap_s)}
    return cached_read(f"{kind}-loaded", files, options, lambda: build(True), cache_dir=cache_dir())


def _load(
    kind: str,
    root: Path | str | None,
    *,
    region: Region | str | None,
    interval_s: float | None,
    max_gap_s: float | None,
    cache: bool,
    lenient: bool,
    site: str,
    synthetic: dict[str, Any] | None,
    reader: dict[str, Any] | None,
) -> pd.DataFrame:
    """`load_dataset` without its final-table cache (`cache` is the parsed-files cache)."""
    if kind == "synthetic":
        from edgeroam.datasets.synthetic import synthetic_traces

        traces = synthetic_traces(**(synthetic or {}))
        reg = resolve_region(kind, region, traces)
    else:
        # Geolife: every row is projected unless a lon/lat region cuts the table first, so the reader's
        # workers project as they read (its region needs no traces: only KAIST's own is derived from them)
        every = kind == "geolife" and _every_row(resolve_region(kind, region, None))
        traces = _read(kind, root, cache=cache, lenient=lenient, site=site, reader=reader, xy=every)
        reg = resolve_region(kind, region, traces)  # needs x, y only for KAIST's own (unprojected) frame
    # after the read: the Geolife reader imports pandas while its workers run
    from edgeroam._memory import release_free_memory
    from edgeroam.datasets.project import project
    from edgeroam.datasets.regions import filter_region, region_mask
    from edgeroam.datasets.resample import resample

    if kind == "geolife" or (kind in OWN_KINDS and traces.attrs.get("metric_frame") is None):
        inside = region_mask(traces, reg) if reg is not None and reg.frame == "lonlat" else None
        if inside is not None and inside.any():
            gap = None if interval_s is None else 3.0 * interval_s if max_gap_s is None else max_gap_s
            cut, crs = _cut_to_region(traces, inside, gap)
            del traces, inside  # only the cut rows are projected: free the whole table first
            release_free_memory()  # and hand its pages back (a table read from the cache: Arrow's pool's)
            cut = project(cut, crs)
            if interval_s is None or gap is None:
                return filter_region(cut, reg)
            out = resample(cut, interval_s, max_gap_s=gap)
            out.attrs["resample"]["region"] = reg.name
            return out
        if traces.attrs.get("metric_frame") is None:  # not projected by the reader
            traces = project(traces)
    if interval_s is not None:
        gap = 3.0 * interval_s if max_gap_s is None else max_gap_s
        return resample(traces, interval_s, max_gap_s=gap, region=reg)
    if reg is not None:
        return filter_region(traces, reg)
    return traces


def _every_row(region: Region | None) -> bool:
    """True when `_load` projects every row: no lon/lat region to cut the table to first."""
    return region is None or region.frame != "lonlat"


def _cut_to_region(traces: pd.DataFrame, inside: Any, gap: float | None) -> tuple[pd.DataFrame, str]:
    """The rows of an unprojected table inside a lon/lat region, and the UTM CRS of the whole table.

    Projecting the cut with that CRS and cutting (or resampling) it gives the same table as projecting every
    row first. For resampling (`gap` given), the segments (gaps, leaving and re-entering the region) are
    numbered on the whole table and become the cut rows' ``traj``, so the resampler splits the cut exactly
    where it would have split the whole table.
    """
    import numpy as np
    import pandas as pd

    from edgeroam.datasets.project import utm_crs_for
    from edgeroam.datasets.resample import segment_ids

    crs = utm_crs_for(traces["lon"].to_numpy(), traces["lat"].to_numpy())
    if gap is None:
        cut = traces.loc[inside].reset_index(drop=True)
    else:
        seg = segment_ids(traces, max_gap_s=gap, inside=inside)
        rows = np.flatnonzero(seg >= 0)
        traj = pd.Series(seg[rows].astype(np.int32), copy=False)  # each segment: a trajectory
        del seg
        columns = {c: traj if c == "traj" else traces[c].take(rows).reset_index(drop=True) for c in traces}
        cut = pd.DataFrame(columns, copy=False)
    cut.attrs = dict(traces.attrs)
    return cut, crs


def read_counts(traces: pd.DataFrame) -> dict[str, Any]:
    """What the reader skipped or re-sorted (from ``attrs["read_report"]``): files and lines read, bad lines
    skipped, files skipped with their reasons, times going backwards and the files re-sorted for them."""
    rep = traces.attrs.get("read_report") or {}
    return {
        "files": rep.get("files", 0),
        "lines": rep.get("lines", 0),
        "bad_lines_skipped": rep.get("bad_lines_skipped", 0),
        "files_skipped": rep.get("files_skipped", 0),
        "skipped_files": list(rep.get("skipped_files", [])),
        "times_backwards": rep.get("times_backwards", 0),
        "files_resorted": len(rep.get("resorted_files", [])),
        "resorted_files": list(rep.get("resorted_files", [])),
    }


def describe_dataset(
    kind: Kind | str,
    root: Path | str | None = None,
    *,
    region: Region | str | None = "default",
    cache: bool = True,
    lenient: bool = False,
    synthetic: dict[str, Any] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    reader: dict[str, Any] | None = None,
    traces_needed: bool = True,
) -> tuple[dict, pd.DataFrame | None, Region | None]:
    """Load `kind` whole and summarise it (`dataset_info`), also inside `region` and resampled as PerDNN did.

    `progress(step, done, total)` is called before each of the four steps (read, region, statistics,
    resampling) and once at the end. With `cache` the info is stored as JSON beside the Parquet cache, keyed
    like it (sources, options, region); when `traces_needed` is False a stored info is returned with
    ``traces`` and ``region`` None, so a warm ``datasets info`` reads nothing else, and a computed one with
    ``traces`` None (the statistics let go of the columns they do not read).

    Returns
    -------
    (info, traces, region)
        ``info`` is `dataset_info`'s dict plus ``speed_resampled_in_region`` (the mean speed after resampling
        the in-region part at `DEFAULT_INTERVAL_S`, gaps over 3 intervals split) and ``read`` (`read_counts`);
        ``traces`` the full table (None when not `traces_needed`).
    """
    say = progress or (lambda _step, _done, _total: None)
    stored = _info_path(kind, root, region, lenient, reader) if cache and kind != "synthetic" else None
    if stored is not None and not traces_needed:
        info = _read_info(stored)
        if info is not None:
            say("done", 4, 4)
            return info, None, None
    say(f"reading {kind}", 0, 4)
    traces: pd.DataFrame | TraceColumns
    if kind == "geolife" and not cache and not traces_needed:
        # what load_dataset reads (every row projected by the workers) as columns: pandas is never imported
        from edgeroam.datasets.geolife import read_geolife_columns

        traces = read_geolife_columns(dataset_sources(kind, root)[0], lenient=lenient, xy=True,
                                      imports=("edgeroam.datasets.stats", "edgeroam.datasets.resample"))
    else:  # the modules that need pandas come after the read: the Geolife reader imports it meanwhile
        traces = load_dataset(kind, root, cache=cache, lenient=lenient, synthetic=synthetic, reader=reader)
    from edgeroam._memory import trim_heap
    from edgeroam.datasets.resample import resample
    from edgeroam.datasets.stats import dataset_info

    say("region", 1, 4)
    reg = resolve_region(kind, region, traces)
    inside = spare = None
    if not traces_needed:  # only the statistics: the region's rows found, the columns they do not read let go
        from edgeroam.datasets.regions import region_mask

        inside = region_mask(traces, reg) if reg is not None else None
        traces, spare = _statistics_columns(traces)
        trim_heap()  # what was let go leaves the resident memory before the statistics' arrays come
    say("statistics", 2, 4)
    # the steps' times and distances in the memory of the lat/lon let go of: no fresh pages to fault in
    info = dataset_info(traces, reg, kind=kind, inside=inside, spare=spare)
    del spare
    info["dataset"] = kind
    info["read"] = read_counts(traces)
    say("resampling in the region", 3, 4)
    if reg is not None and info["points_in_region"]:
        step = DEFAULT_INTERVAL_S.get(kind, 30.0)
        res = resample(traces, step, max_gap_s=3 * step, region=reg, inside=inside)
        rinfo = dataset_info(res, None, kind=kind, max_gap_s=3 * step)
        info["speed_resampled_in_region"] = {
            "interval_s": step,
            "points": rinfo["points"],
            "trajectories": rinfo["trajectories"],
            **rinfo["speed"],
        }
    if stored is not None:
        _write_info(stored, info)
    say("done", 4, 4)
    return info, traces if traces_needed else None, reg


def _statistics_columns(
    traces: pd.DataFrame | TraceColumns,
) -> tuple[pd.DataFrame | TraceColumns, tuple[np.ndarray, np.ndarray] | None]:
    """`traces` with only what `dataset_info` and `resample` read for the statistics: without ``mode``, and
    with lat/lon one shared, zero-stride NaN column when x, y are filled everywhere (the statistics measure
    in x, y and read lat/lon only where x or y is missing): the cold ``datasets info`` frees ~80 MB. Also
    the memory of the lat/lon let go of, as two writable float64 arrays, when `traces` owned them (read
    from the source, not mapped from a cache file); else None."""
    import numpy as np

    from edgeroam.datasets._columns import TraceColumns, column

    x, y = column(traces, "x", float), column(traces, "y", float)
    drop = {"mode"}
    spare = None
    if _all_finite(x) and _all_finite(y):
        drop |= {"lat", "lon"}
        lat, lon = (_owned_floats(column(traces, c)) for c in ("lat", "lon"))
        if lat is not None and lon is not None:
            spare = (lat, lon)
    nan = np.broadcast_to(np.float64(np.nan), (len(traces),))
    if isinstance(traces, TraceColumns):
        data = {c: nan if c in drop else v for c, v in traces.data.items()}
        kept = [traces.codes, *(v for c, v in data.items() if c not in ("lat", "lon"))]
        if spare is not None and _shares_memory(spare, kept):
            spare = None
        return TraceColumns(traces.codes, traces.users, data, dict(traces.attrs)), spare
    import pandas as pd

    lean = pd.DataFrame({c: nan if c in ("lat", "lon") and c in drop else traces[c] for c in traces
                         if c not in drop or c in ("lat", "lon")}, copy=False)
    lean.attrs = dict(traces.attrs)
    if spare is not None:  # memory of its own: not one array shared by both (missing columns share one)
        kept = [lean["user"].cat.codes.to_numpy(),
                *(lean[c].to_numpy() for c in lean if c not in ("lat", "lon", "user"))]
        if _shares_memory(spare, kept):
            spare = None
    return lean, spare


def _all_finite(v: np.ndarray) -> bool:
    """True when every value of `v` is finite (chunk by chunk: no temporary of its length)."""
    import numpy as np

    step = 1 << 16
    return all(bool(np.isfinite(v[s : s + step]).all()) for s in range(0, len(v), step))


def _shares_memory(spare: tuple[np.ndarray, np.ndarray], kept: list[np.ndarray]) -> bool:
    """True when either spare array may share memory with the other or with a column kept."""
    import numpy as np

    return any(np.may_share_memory(spare[i], other) for i in (0, 1) for other in [spare[1 - i], *kept])


def _owned_floats(col: np.ndarray) -> np.ndarray | None:
    """The whole writable float64 array that owns `col`'s memory (pandas hands out read-only views of it;
    a `TraceColumns` table holds it), or None when its memory is not such an array's (e.g. a buffer mapped
    from a file)."""
    import numpy as np

    base = col if col.base is None else col.base
    ok = (isinstance(base, np.ndarray) and base.flags.owndata and base.flags.writeable
          and base.flags.c_contiguous and base.dtype == np.float64 and base.size == col.size)
    return base.reshape(-1) if ok else None


def _info_path(
    kind: str, root: Path | str | None, region: Region | str | None, lenient: bool,
    reader: dict[str, Any] | None,
) -> Path | None:
    """Where `describe_dataset`'s info for these inputs is stored; None when a source cannot be stat'ed."""
    from edgeroam.datasets.cache import cache_key, cache_path

    src, files = dataset_sources(kind, root)
    options = {"source": str(src), "lenient": lenient, "reader": reader or {}, "region": _region_key(region)}
    key = cache_key(f"{kind}-info", files, options)
    return None if key is None else cache_path(cache_dir(), f"{kind}-info", key).with_suffix(".json")


def _read_info(path: Path) -> dict | None:
    """The stored info, or None when missing or unreadable."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _write_info(path: Path, info: dict) -> None:
    """Store `info` atomically when it survives a JSON round trip unchanged (else leave it out)."""
    text = json.dumps(info)
    if json.loads(text) != info:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        return  # an unwritable cache only costs the next call its statistics
