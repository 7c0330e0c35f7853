"""Read any table of positions (CSV, Parquet, GeoParquet; one row per fix) into a Traces table.

A column mapping names the table's columns: ``user`` and ``t`` always, then ``lat`` and ``lon`` (WGS 84
degrees), or ``x`` and ``y`` in a projected ``crs`` (metres; no crs: an unknown local frame, as KAIST), or
neither for GeoParquet, whose point geometry gives them; ``traj`` and ``mode`` are optional. Times are epoch
seconds, ISO 8601 strings or timestamps; a time without an offset is local time in ``timezone`` (else UTC).
Without a ``traj`` column a user's fixes form one trajectory, cut where two fixes are more than
``max_gap_s`` apart. CSV is read by pyarrow (the mapped columns as text, then one C cast per column),
Parquet by pyarrow, GeoParquet by geopandas. A bad row raises one `TraceFormatError` naming file, line (CSV;
rows for Parquet) and column, or is skipped and counted under ``lenient``. Projection, regions and caching
are left to ``load``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from edgeroam.datasets._lines import short_reason, warn
from edgeroam.datasets._values import (
    BadRows,
    check_timezone,
    count_backwards_by_user,
    to_float,
    to_seconds,
    to_strings,
)
from edgeroam.datasets.traces import empty_read_report, make_traces
from edgeroam.errors import DatasetError, TraceFormatError

__all__ = [
    "COLUMN_ROLES",
    "DEFAULT_COLUMNS",
    "assign_trajectories",
    "parse_columns",
    "read_table",
    "table_files",
]

#: What a column of the table can stand for.
COLUMN_ROLES: tuple[str, ...] = ("user", "t", "lat", "lon", "x", "y", "traj", "mode")
#: The mapping used when a scenario gives none: columns named after their roles.
DEFAULT_COLUMNS: dict[str, str] = {"user": "user", "t": "t", "lat": "lat", "lon": "lon"}
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
             ".geoparquet": "parquet"}


def parse_columns(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """A column mapping from a dict or from ``"user=taxi_id,t=time,lat=lat,lon=lon"``; checked.

    Examples
    --------
    >>> parse_columns("user=taxi_id, t=time, x=e, y=n")
    {'user': 'taxi_id', 't': 'time', 'x': 'e', 'y': 'n'}
    """
    if spec is None:
        return dict(DEFAULT_COLUMNS)
    if isinstance(spec, str):
        pairs = [p.partition("=") for p in spec.split(",") if p.strip()]
        if any(not sep or not k.strip() or not v.strip() for k, sep, v in pairs):
            raise DatasetError(f"columns {spec!r}: expected role=column pairs, e.g. user=taxi_id,t=time")
        spec = {k.strip(): v.strip() for k, _, v in pairs}
    out = {str(k): str(v) for k, v in spec.items()}
    unknown = sorted(set(out) - set(COLUMN_ROLES))
    if unknown:
        raise DatasetError(f"columns: unknown role {unknown[0]!r}; roles are {', '.join(COLUMN_ROLES)}")
    for need in ("user", "t"):
        if need not in out:
            raise DatasetError(f"columns: the {need!r} role is required (e.g. {need} = \"{need}\")")
    for a, b in (("lat", "lon"), ("x", "y")):
        if (a in out) != (b in out):
            raise DatasetError(f"columns: {a!r} and {b!r} go together; map both or neither")
    return out


def table_files(root: str | Path) -> list[Path]:
    """The table files of `root`: the file itself, or every CSV/Parquet file in a folder (sorted)."""
    path = Path(root).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetError(f"{path}: no such file or folder (expected a CSV or Parquet table)")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
    if not files:
        raise DatasetError(f"{path}: no .csv or .parquet files in it")
    return files


def _format_of(path: Path) -> str:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        with open(path, "rb") as fh:
            fmt = "parquet" if fh.read(4) == b"PAR1" else "csv"
    return fmt


def _header(path: Path, data: bytes, delimiter: str) -> list[str]:
    end = data.find(b"\n")
    text = (data if end < 0 else data[:end]).decode("utf-8-sig", "replace").rstrip("\r\n")
    if not text.strip():
        raise TraceFormatError(path, "empty file or empty header line", line=1)
    return next(csv.reader(io.StringIO(text), delimiter=delimiter))


def _utf8(path: Path, data: bytes, *, lenient: bool, report: dict[str, Any]) -> bytes:
    """`data` if it is UTF-8; else the first bad line is an error, or (lenient) every such line is blanked
    out and counted (a loop over lines, only on this path)."""
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as exc:
        if not lenient:
            line = data.count(b"\n", 0, exc.start) + 1
            raise TraceFormatError(path, f"not UTF-8 text (byte {data[exc.start]:#04x})", line=line) from None
    lines = data.split(b"\n")
    for i, text in enumerate(lines):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            lines[i] = b""
            report["bad_lines_skipped"] += 1
            report["lines"] += 1
            warn(report, f"skipped {path}, line {i + 1}: not UTF-8 text")
    return b"\n".join(lines)


def _row_lines(data: bytes) -> np.ndarray:
    """Line numbers (1-based) of the lines that are not blank: the CSV parser's rows (header first), which
    is how it numbers the rows it rejects. Lines end at LF, CRLF or a lone CR, as for the parser."""
    arr = np.frombuffer(data, dtype=np.uint8)
    lone_cr = (arr == 13) & np.concatenate((arr[1:] != 10, [True]))
    nl = np.flatnonzero((arr == 10) | lone_cr)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(arr)]))
    length = ends - starts
    last = np.maximum(ends - 1, 0)
    cr = (length > 0) & (arr[last] == 13) if len(arr) else np.zeros(len(starts), dtype=bool)
    blank = length - cr == 0
    return np.flatnonzero(~blank) + 1


def _missing_columns(path: Path, have: list[str], mapping: Mapping[str, str], where: str) -> None:
    absent = [f"{role} = {col!r}" for role, col in mapping.items() if col not in have]
    if absent:
        shown = ", ".join(repr(c) for c in have[:20]) + (" …" if len(have) > 20 else "")
        raise TraceFormatError(path, f"no column for {absent[0]} in the {where} (columns: {shown})",
                               line=1 if where == "header" else None, column=absent[0].split(" = ")[0])


def _read_csv(path: Path, mapping: Mapping[str, str], *, lenient: bool, report: dict[str, Any]):
    """The mapped columns as text, and each row's line number (rows the CSV parser rejects are skipped
    under `lenient`)."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or short_reason(exc)})") from None
    data = _utf8(path, data, lenient=lenient, report=report)
    header = _header(path, data, delimiter)
    _missing_columns(path, header, mapping, "header")
    wanted = sorted(set(mapping.values()))
    rejected: list[tuple[int, str]] = []

    row_lines = _row_lines(data)

    def on_invalid(row: Any) -> str:
        number = int(row.number) if row.number is not None and 0 < row.number <= len(row_lines) else 0
        line = int(row_lines[number - 1]) if number else -1
        rejected.append((line, f"expected {row.expected_columns} fields, got {row.actual_columns}"))
        return "skip" if lenient else "error"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                             newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in wanted}, include_columns=wanted,
                strings_can_be_null=True, quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if rejected and not lenient:
            line, text = rejected[0]
            raise TraceFormatError(path, text, line=line if line > 0 else None) from None
        raise TraceFormatError(path, f"not a readable CSV table ({short_reason(exc)})") from None
    good = [ln for ln, _ in rejected if ln > 0]
    report["bad_lines_skipped"] += len(rejected)
    for ln, text in rejected[:10]:
        warn(report, f"skipped {path}, line {ln}: {text}")
    # line of each kept row: the non-blank lines after the header, less the rejected ones
    lines = row_lines[1:]
    if good:
        lines = np.setdiff1d(lines, np.asarray(good, dtype=np.int64), assume_unique=True)
    if len(lines) != table.num_rows:  # a layout the line map does not follow: name rows by their order
        lines = np.arange(2, table.num_rows + 2, dtype=np.int64)
    report["lines"] += table.num_rows + len(rejected)
    return table, lines


def _read_parquet(path: Path, mapping: Mapping[str, str]) -> tuple[pa.Table, pa.Array | None, str | None]:
    """The mapped columns, and for GeoParquet the point geometry (as x and y) and its CRS."""
    try:
        meta = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceFormatError(path, f"not a readable Parquet file ({short_reason(exc)})") from None
    geo = (meta.metadata or {}).get(b"geo")
    names = list(meta.names)
    if geo is None:
        _missing_columns(path, names, mapping, "Parquet schema")
        try:
            return pq.read_table(path, columns=sorted(set(mapping.values()))), None, None
        except (pa.ArrowException, OSError) as exc:
            raise TraceFormatError(path, f"not a readable Parquet file ({short_reason(exc)})") from None
    import geopandas as gpd

    try:
        gdf = gpd.read_parquet(path)
    except Exception as exc:  # geopandas raises ValueError/ArrowInvalid/... for a damaged file
        raise TraceFormatError(path, f"not a readable GeoParquet file ({short_reason(exc)})") from None
    _missing_columns(path, list(gdf.columns), mapping, "GeoParquet schema")
    columns = {c: pa.array(gdf[c], from_pandas=True) for c in sorted(set(mapping.values()))}
    crs = gdf.crs.to_string() if gdf.crs is not None else None
    return pa.table(columns), gdf.geometry, crs


def _check_types(path: Path, table: pa.Table, mapping: Mapping[str, str]) -> None:
    """Each mapped column must have a type that can hold its role (text, numbers, times)."""
    for role, col in mapping.items():
        kind = table.schema.field(col).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        fits = (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
                or pa.types.is_floating(kind) or pa.types.is_decimal(kind) or pa.types.is_null(kind)
                or (role == "t" and (pa.types.is_timestamp(kind) or pa.types.is_date(kind))))
        if not fits:
            raise TraceFormatError(path, f"a {kind} column cannot hold {role}", column=col)


def assign_trajectories(user_codes: np.ndarray, t: np.ndarray, max_gap_s: float | None) -> np.ndarray:
    """Trajectory numbers (int32, from 0 per user) for rows sorted by user then t: a new one after a gap
    longer than `max_gap_s` (None: one trajectory per user)."""
    n = len(t)
    if n == 0 or max_gap_s is None:
        return np.zeros(n, dtype=np.int32)
    new_user = np.ones(n, dtype=bool)
    new_user[1:] = user_codes[1:] != user_codes[:-1]
    gap = np.zeros(n, dtype=bool)
    gap[1:] = (np.diff(t) > max_gap_s) & ~new_user[1:]
    count = np.cumsum(gap)
    start = np.maximum.accumulate(np.where(new_user, np.arange(n), 0))
    return (count - count[start]).astype(np.int32)


def _read_one(
    path: Path, mapping: Mapping[str, str], *, crs: str | None, timezone: str | None, lenient: bool,
    report: dict[str, Any],
) -> tuple[pd.DataFrame, str | None]:
    geometry = None
    if _format_of(path) == "csv":
        table, lines = _read_csv(path, mapping, lenient=lenient, report=report)
        line_of: Any = lines.__getitem__
    else:
        table, geometry, geo_crs = _read_parquet(path, mapping)
        lines, line_of = None, None
        report["lines"] += table.num_rows
        if geometry is not None:
            crs = geo_crs
    _check_types(path, table, mapping)
    n = table.num_rows
    bad = BadRows(str(path), line_of)
    raw = {role: table.column(col) for role, col in mapping.items()}

    def shower(role: str):
        return lambda i: raw[role][i].as_py()

    user, user_missing = to_strings(raw["user"])
    bad.flag(user_missing, mapping["user"], "missing user")
    t, t_missing, t_bad, t_reason = to_seconds(raw["t"], timezone)
    bad.flag(t_missing, mapping["t"], "missing time")
    bad.flag(t_bad, mapping["t"], t_reason, shower("t"))
    out: dict[str, Any] = {"t": t}
    pairs = [(a, b) for a, b in (("lat", "lon"), ("x", "y")) if a in mapping]
    for a, b in pairs:
        for role in (a, b):
            values, missing, wrong = to_float(raw[role])
            bad.flag(missing, mapping[role], f"missing {role}")
            bad.flag(wrong, mapping[role], "not a finite number", shower(role))
            out[role] = values
    if "lat" in out:
        bad.flag(np.abs(out["lat"]) > 90, mapping["lat"], "latitude outside -90…90", shower("lat"))
        bad.flag(np.abs(out["lon"]) > 180, mapping["lon"], "longitude outside -180…180", shower("lon"))
    if geometry is not None:
        import shapely

        geoms = np.asarray(geometry.values, dtype=object)
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        points = (shapely.get_type_id(geoms) == shapely.GeometryType.POINT) | empty
        bad.flag(~points, "geometry", "not a point", lambda i: geoms[i].geom_type)
        bad.flag(empty, "geometry", "empty or missing point")
        ok = points & ~empty
        gx = np.full(n, np.nan)
        gy = np.full(n, np.nan)
        gx[ok], gy[ok] = shapely.get_x(geoms[ok]), shapely.get_y(geoms[ok])
        geographic = _is_geographic(crs)
        out["lon" if geographic else "x"] = gx
        out["lat" if geographic else "y"] = gy
        if geographic:
            bad.flag((np.abs(gy) > 90) | (np.abs(gx) > 180), "geometry", "not a lon/lat point",
                     lambda i: geoms[i].wkt[:40])
            crs = None
    if "traj" in mapping:
        traj, missing, wrong = to_float(raw["traj"])
        bad.flag(missing, mapping["traj"], "missing traj")
        whole = np.isfinite(traj) & (traj == np.round(traj)) & (traj >= 0) & (traj <= np.iinfo(np.int32).max)
        bad.flag(wrong | (~whole & ~missing), mapping["traj"], "not a whole number 0…2^31-1", shower("traj"))
        out["traj"] = traj
    if "mode" in mapping:
        mode, missing = to_strings(raw["mode"])
        out["mode"] = np.where(missing, None, mode)
    keep = bad.resolve(n, lenient=lenient, report=report)
    frame = pd.DataFrame({k: v[keep] for k, v in out.items()}, copy=False)
    frame["user"] = user[keep]
    kept_lines = lines[keep] if lines is not None else None
    count_backwards_by_user(str(path), frame["user"].to_numpy(), frame["t"].to_numpy(), kept_lines, report)
    return frame, crs


def _is_geographic(crs: str | None) -> bool:
    if not crs:
        return False
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return bool(CRS.from_user_input(crs).is_geographic)
    except CRSError as exc:
        raise DatasetError(f"crs {crs!r}: not a CRS pyproj knows ({short_reason(exc)})") from None


def read_table(
    root: str | Path,
    columns: str | Mapping[str, str] | None = None,
    *,
    crs: str | None = None,
    timezone: str | None = None,
    max_gap_s: float | None = None,
    lenient: bool = False,
) -> pd.DataFrame:
    """Read a CSV/Parquet/GeoParquet table of fixes (or a folder of them) into a Traces table.

    Parameters
    ----------
    root
        A file, or a folder whose ``.csv``/``.tsv``/``.parquet`` files are read in name order as one table.
    columns
        Role → column name (`parse_columns`); default ``user, t, lat, lon`` named as such.
    crs
        The CRS of mapped ``x``/``y`` (a projected one; None: a local frame, lat/lon unknown).
    timezone
        IANA zone of times written without an offset (default UTC).
    max_gap_s
        Without a ``traj`` column: a gap longer than this starts a new trajectory (None: never).
    lenient
        Skip bad rows (and CSV lines with the wrong number of fields or not UTF-8), and in a folder the
        files that cannot be read as a table (no header, a mapped column missing), counting them in
        ``attrs["read_report"]``, instead of raising.

    Returns
    -------
    pandas.DataFrame
        Traces; lat/lon filled from lat/lon columns or a geographic geometry, x/y from x/y columns or a
        projected geometry (``attrs["crs"]``, ``metric_frame`` "utm" with a CRS, "local" without), else NaN
        until ``project``.

    Raises
    ------
    DatasetError
        No such file, a bad mapping, an unknown time zone or CRS.
    TraceFormatError
        A missing column, or a bad value: names the file, the line (CSV) or row (Parquet) and the column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "fixes.csv"
    >>> _ = p.write_text("id,time,lat,lon\\n7,2008-10-23 10:53:04,39.9,116.4\\n")
    >>> tr = read_table(p, "user=id,t=time,lat=lat,lon=lon", timezone="Asia/Shanghai")
    >>> tr["user"].tolist(), tr["t"].tolist()
    (['7'], [1224730384.0])
    """
    mapping = parse_columns(columns)
    check_timezone(timezone)
    if crs is not None and _is_geographic(crs):
        raise DatasetError(f"crs {crs!r} is geographic: map the columns as lat and lon instead of x and y")
    if max_gap_s is not None and not max_gap_s > 0:
        raise DatasetError(f"max_gap_s must be > 0, got {max_gap_s}")
    files = table_files(root)
    report = empty_read_report()
    frames = []
    crs_seen: set[str | None] = set()
    for path in files:
        report["files"] += 1
        try:
            frame, file_crs = _read_one(path, mapping, crs=crs, timezone=timezone, lenient=lenient,
                                        report=report)
        except TraceFormatError as exc:  # under lenient only a file-wide problem gets here: skip the file
            if not lenient or len(files) == 1:
                raise
            report["files_skipped"] += 1
            reason = str(exc)[len(exc.path):].lstrip(", ")
            report["skipped_files"].append({"file": str(path), "reason": reason})
            warn(report, f"skipped {exc}")
            continue
        frames.append(frame)
        crs_seen.add(file_crs)
    if len(crs_seen) > 1:
        raise DatasetError(f"{root}: the files have different CRSs ({', '.join(sorted(map(str, crs_seen)))})")
    if not frames:
        raise DatasetError(f"{root}: no readable table among {len(files)} file(s) (see the read report)")
    df = pd.concat(frames, ignore_index=True)
    out_crs = crs_seen.pop() if crs_seen else crs
    users = pd.Categorical(df["user"].to_numpy(dtype=object)) if len(df) else pd.Categorical([])
    df["user"] = users
    if "traj" not in df.columns:
        order = np.lexsort((df["t"].to_numpy(), users.codes)) if len(df) else np.zeros(0, dtype=np.int64)
        df = df.iloc[order].reset_index(drop=True)
        df["traj"] = assign_trajectories(df["user"].cat.codes.to_numpy(), df["t"].to_numpy(), max_gap_s)
    if "mode" in df.columns:
        df["mode"] = pd.Categorical(df["mode"].to_numpy(dtype=object))
    has_xy = "x" in df.columns
    frame_kind = None if not has_xy else ("utm" if out_crs else "local")
    source = str(files[0]) if len(files) == 1 else str(Path(root).expanduser())
    traces = make_traces(df, crs=out_crs if has_xy else None, source=source, metric_frame=frame_kind,
                         read_report=report)
    if frame_kind == "utm" and "lat" not in df.columns:
        from edgeroam.datasets.project import unproject

        traces = unproject(traces)
    return traces
