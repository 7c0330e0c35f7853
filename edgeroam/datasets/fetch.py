"""Download the official Geolife zip (with a progress bar and a checksum check) and explain how to get KAIST.

Geolife 1.3 is one public zip from Microsoft; it is downloaded with urllib to ``<dest>/<name>.part``, checked
(SHA-256 when one is given, and that it is a zip holding Geolife trajectories) and renamed into place. The
CRAWDAD KAIST traces sit behind an IEEE DataPort login, so for them this module only says what to do. Reading
the files is left to ``geolife`` and ``kaist``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from edgeroam.errors import DatasetError

__all__ = ["KAIST_DATAPORT_URL", "OFFICIAL_URL", "fetch_geolife", "kaist_instructions", "sha256_of"]

OFFICIAL_URL = (
    "https://download.microsoft.com/download/F/4/8/F4894AA5-FDBC-481E-9285-D5F8C4C4F039/"
    "Geolife%20Trajectories%201.3.zip"
)
KAIST_DATAPORT_URL = "https://ieee-dataport.org/open-access/crawdad-ncsumobilitymodels"
_CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_name(url: str) -> str:
    name = urllib.parse.unquote(Path(urllib.parse.urlparse(url).path).name)
    return name or "Geolife Trajectories 1.3.zip"


def fetch_geolife(
    dest: str | Path,
    *,
    url: str = OFFICIAL_URL,
    sha256: str | None = None,
    progress: bool = True,
    timeout_s: float = 60.0,
) -> Path:
    """Download the Geolife zip into folder `dest` and return its path.

    An existing file with the right checksum (or any existing zip when no checksum is given) is kept.

    Parameters
    ----------
    dest
        The folder to put the zip in (created if missing).
    url
        Where to download from; ``file://`` URLs work (tests, mirrors).
    sha256
        The expected hex SHA-256; a mismatch deletes the download and raises.
    progress
        Show a rich progress bar.
    timeout_s
        Socket timeout.

    Raises
    ------
    DatasetError
        Offline or the server refuses, a checksum mismatch, or the download is not a Geolife zip.
    """
    folder = Path(dest).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot create the destination folder ({exc.strerror})") from exc
    target = folder / _file_name(url)
    want = sha256.lower().strip() if sha256 else None
    if target.exists() and (want is None or sha256_of(target) == want):
        _check_zip(target)
        return target
    part = target.with_name(target.name + ".part")
    try:
        _download(url, part, progress=progress, timeout_s=timeout_s)
        if want is not None:
            got = sha256_of(part)
            if got != want:
                raise DatasetError(
                    f"{url}: checksum mismatch: expected sha256 {want}, got {got}; download removed"
                )
        _check_zip(part, shown=url)
        os.replace(part, target)
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return target


def _download(url: str, out: Path, *, progress: bool, timeout_s: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "edgeroam"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp, open(out, "wb") as fh:
            total = int(resp.headers.get("Content-Length") or 0) or None
            if progress:
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )

                columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
                with Progress("[progress.description]{task.description}", *columns, transient=True) as bar:
                    task = bar.add_task(f"downloading {out.name.removesuffix('.part')}", total=total)
                    for block in iter(lambda: resp.read(_CHUNK), b""):
                        fh.write(block)
                        bar.advance(task, len(block))
            else:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    fh.write(block)
    except urllib.error.HTTPError as exc:
        raise DatasetError(f"{url}: the server answered {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DatasetError(
            f"{url}: cannot download ({exc.reason}); are you offline? Download it by hand from "
            "https://www.microsoft.com/en-us/download/details.aspx?id=52367 and pass --root"
        ) from exc
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{url}: download failed ({exc})") from exc


def _check_zip(path: Path, shown: str | None = None) -> None:
    name = shown or str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            if not any(n.lower().endswith(".plt") for n in zf.namelist()):
                raise DatasetError(f"{name}: the zip holds no Geolife .plt trajectories")
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{name}: not a zip file, or a truncated one ({exc})") from exc


def kaist_instructions(dest: str | Path | None = None) -> str:
    """How to get the CRAWDAD ncsu/mobilitymodels traces (KAIST and the other sites) by hand."""
    where = Path(dest).expanduser() if dest is not None else Path("<DIR>")
    return (
        "The KAIST traces (CRAWDAD ncsu/mobilitymodels) need a free IEEE DataPort account, so edgeroam "
        "cannot download them for you.\n"
        f"1. Sign in at {KAIST_DATAPORT_URL}\n"
        "2. Download 'Traces_TimeXY_30sec_txt' (the GPS traces, time x y every 30 s) and unpack it.\n"
        f"3. Put the site folders under {where}, e.g. {where / 'KAIST' / 'KAIST_30sec_001.txt'} "
        "(sites: KAIST, NCSU, NewYork, Orlando, Statefair).\n"
        f"4. Use them: edgeroam datasets info kaist --root {where}\n"
        "Please cite Rhee et al., 'On the Levy-walk nature of human mobility', INFOCOM 2008."
    )
