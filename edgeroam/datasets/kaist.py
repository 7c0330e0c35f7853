"""Read the CRAWDAD ncsu/mobilitymodels GPS traces (KAIST and its sibling sites) into a Traces table.

Files are ``<SITE>/<SITE>_30sec_NNN.txt``, one participant-day each, with lines ``time x y``: seconds from
the start of the trace and metres in a local planar frame, in scientific notation (``-3.84e+002``),
separated by whitespace (tabs, with a trailing tab) and ended by CRLF. The sites KAIST, NCSU, NewYork,
Orlando and Statefair share the format. The data has no absolute date and no geographic reference: ``t`` is
seconds from the start of each trace, x/y are the file's metres (``attrs["metric_frame"] = "local"``,
``crs`` None), lat/lon NaN.

All files are concatenated and parsed by one pandas C parse (whitespace separated); bad lines are searched
only when that parse fails (see ``_lines``). Regions and resampling are left to the other modules.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from edgeroam.datasets._lines import (
    PARSE_ERRORS,
    STRAY_CR,
    column,
    count_backwards,
    parse_files,
    prepare,
    sentinel_parses,
    short_reason,
    stray_cr,
)
from edgeroam.datasets.traces import empty_read_report, make_traces
from edgeroam.errors import DatasetError

__all__ = ["KAIST_SITES", "kaist_files", "read_kaist"]

KAIST_SITES: tuple[str, ...] = ("KAIST", "NCSU", "NewYork", "Orlando", "Statefair")
_ARCHIVE_DIR = "Traces_TimeXY_30sec_txt"
_NAMES = ("t", "x", "y")


@dataclass(frozen=True)
class _File:
    user: str
    path: Path

    @property
    def display(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class _WhitespaceParser:
    """``time x y`` lines, any whitespace between and around the numbers, parsed by pandas' C engine."""

    sentinel: bytes = b"0 0 0\n"
    header_lines: int = 0

    def _frame(self, buffer: bytes | memoryview) -> pd.DataFrame:
        return pd.read_csv(
            io.BytesIO(buffer),
            sep=r"\s+",
            header=None,
            names=list(_NAMES),
            dtype=np.float64,
            engine="c",
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=False,
            na_filter=False,
            comment=None,
        )

    def parse(self, buffer: bytes | memoryview, threads: bool) -> pa.Table:
        df = self._frame(buffer)
        values = df.to_numpy()
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            raise ValueError(f"row {row}: missing or non-finite value")
        return pa.table({name: df[name].to_numpy() for name in _NAMES})

    def parses(self, lines: Sequence[bytes]) -> bool:
        return sentinel_parses(self, lines)

    def reason(self, line: bytes) -> tuple[str, str | None]:
        if stray_cr(line):
            return STRAY_CR, None
        fields = line.split()
        if len(fields) != len(_NAMES):
            return f"expected 3 whitespace-separated fields (time x y), got {len(fields)}", None
        for name, value in zip(_NAMES, fields, strict=True):
            try:
                number = float(value)
            except ValueError:
                shown = value[:40].decode("utf-8", "replace")
                return f"not a number: {shown!r}", name
            if not np.isfinite(number):
                return f"not a finite number: {value[:40].decode('utf-8', 'replace')!r}", name
        try:
            self.parse(self.sentinel + line + b"\n", threads=False)
        except PARSE_ERRORS as exc:
            return short_reason(exc), None
        return "unparsable line", None


def _site_name(site: str) -> str:
    for known in KAIST_SITES:
        if known.lower() == str(site).lower():
            return known
    raise DatasetError(f"unknown site {site!r}; known sites: {', '.join(KAIST_SITES)}")


def kaist_files(root: str | Path, site: str = "KAIST") -> list[Path]:
    """The ``<SITE>_30sec_NNN.txt`` files of `site` under `root` (sorted by NNN).

    `root` is the folder holding the files, or a parent holding ``<SITE>/`` or
    ``Traces_TimeXY_30sec_txt/<SITE>/``.
    """
    return [f.path for f in _find(Path(root), _site_name(site))]


def _find(root: Path, site: str) -> list[_File]:
    if not root.exists():
        raise DatasetError(f"{root}: no such folder (expected the {site} traces, '{site}_30sec_NNN.txt')")
    if root.is_file():
        raise DatasetError(f"{root}: is a file; pass the folder holding '{site}_30sec_NNN.txt'")
    pattern = re.compile(rf"^{re.escape(site)}_30sec_(\d+)\.txt$", re.IGNORECASE)
    for folder in (root, root / site, root / _ARCHIVE_DIR / site):
        if not folder.is_dir():
            continue
        try:
            with os.scandir(folder) as it:
                names = [e.name for e in it if e.is_file()]
        except OSError as exc:
            raise DatasetError(f"{folder}: cannot list folder ({exc.strerror or short_reason(exc)})") from exc
        found = sorted((int(m.group(1)), m.group(1), n) for n in names if (m := pattern.match(n)))
        if found:
            return [_File(f"{site}_{num}", folder / name) for _, num, name in found]
    raise DatasetError(
        f"{root}: no '{site}_30sec_NNN.txt' files in it, in '{site}/' or in '{_ARCHIVE_DIR}/{site}/'"
    )


def _read_bytes(f: _File) -> bytes:
    try:
        return f.path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{f.path}: cannot read ({exc.strerror or short_reason(exc)})") from exc


def read_kaist(root: str | Path, *, site: str = "KAIST", lenient: bool = False) -> pd.DataFrame:
    """Read every trace of one CRAWDAD ncsu/mobilitymodels site into a Traces table.

    Parameters
    ----------
    root
        The folder with ``<SITE>_30sec_NNN.txt`` files, or a parent holding ``<SITE>/``.
    site
        KAIST, NCSU, NewYork, Orlando or Statefair (case-insensitive).
    lenient
        Skip malformed lines and empty files instead of raising; ``attrs["read_report"]`` counts them.

    Returns
    -------
    pandas.DataFrame
        Traces: user ``<SITE>_NNN`` (one per file, i.e. per participant-day), traj 0, t seconds from the start
        of the trace, x/y local metres, lat/lon NaN; attrs metric_frame "local", crs None.

    Raises
    ------
    DatasetError
        No such folder, no trace files, or a file cannot be read.
    TraceFormatError
        A malformed line (names the file, line and column) or an empty file; not for bad lines when lenient.
    """
    name = _site_name(site)
    files = _find(Path(root), name)
    report = empty_read_report()
    prepared = [prepare(f, _read_bytes(f), 0, None) for f in files]
    parsed = parse_files(prepared, _WhitespaceParser(), lenient=lenient, threads=False, report=report)
    users = [p.member.user for p in parsed.files]
    categories = sorted(set(users))
    code_of = {u: i for i, u in enumerate(categories)}
    file_codes = np.fromiter((code_of[u] for u in users), dtype=np.int32, count=len(users))
    t = column(parsed.table, "t", np.float64)
    count_backwards(t, parsed)  # re-sorted by make_traces; counted and named in the read report
    frame: dict[str, Any] = {
        "user": pd.Categorical.from_codes(file_codes[parsed.row_file], categories=categories),
        "traj": np.zeros(len(parsed.row_file), dtype=np.int32),
        "t": t,
        "x": column(parsed.table, "x", np.float64),
        "y": column(parsed.table, "y", np.float64),
    }
    source = str(files[0].path.parent) if files else str(root)
    return make_traces(
        pd.DataFrame(frame, copy=False), crs=None, source=source, metric_frame="local", read_report=report
    )
