"""Download the official Geolife zip (with a progress bar and a checksum check) and explain how to get KAIST.

Geolife 1.3 is one public zip from Microsoft; it is downloaded with urllib to ``<dest>/<name>.part``, checked
(SHA-256, size, and that it is a zip holding Geolife trajectories) and renamed into place. The CRAWDAD KAIST
traces sit behind an IEEE DataPort login, so for them this module only says what to do. Reading the files is
left to ``geolife`` and ``kaist``.

A URL is input from outside, so: its path never chooses where the file goes (only a plain last segment,
after percent-decoding, names a file directly inside ``dest``); only https, http and file URLs are fetched;
every download other than Microsoft's official https URL needs the expected SHA-256 (no digest of the official
zip is published, so there TLS to download.microsoft.com vouches for it, and a redirect away from https is
refused); and a download larger than ``max_bytes`` is stopped and removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from edgeroam.errors import DatasetError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "KAIST_DATAPORT_URL",
    "OFFICIAL_URL",
    "fetch_geolife",
    "kaist_instructions",
    "sha256_of",
]

OFFICIAL_URL = (
    "https://download.microsoft.com/download/F/4/8/F4894AA5-FDBC-481E-9285-D5F8C4C4F039/"
    "Geolife%20Trajectories%201.3.zip"
)
KAIST_DATAPORT_URL = "https://ieee-dataport.org/open-access/crawdad-ncsumobilitymodels"
DEFAULT_NAME = "Geolife Trajectories 1.3.zip"
DEFAULT_MAX_BYTES = 2 << 30  # the official zip is about 300 MB; 2 GiB leaves room and still stops a runaway
_SCHEMES = ("https", "http", "file")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_name(url: str) -> str:
    """A file name for `url` that cannot leave the destination folder.

    The path is percent-decoded first, then only its last segment (split on ``/`` and ``\\``) is kept; an
    empty, hidden, ``..``-like or otherwise odd segment falls back to the official name.
    """
    path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
    name = re.split(r"[/\\]", path)[-1].strip()
    if not name or name.startswith(".") or "\x00" in name or ":" in name or len(name) > 200:
        return DEFAULT_NAME
    return name


def _check_url(url: str, want: str | None) -> None:
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise DatasetError(
            f"{url}: unsupported URL scheme {scheme or '(none)'!r}; use one of {', '.join(_SCHEMES)}"
        )
    if want is None and url != OFFICIAL_URL:
        raise DatasetError(
            f"{url}: a download from anywhere but the official URL needs its expected digest; "
            "pass --sha256 HEX"
        )


def fetch_geolife(
    dest: str | Path,
    *,
    url: str = OFFICIAL_URL,
    sha256: str | None = None,
    progress: bool = True,
    timeout_s: float = 60.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Download the Geolife zip into folder `dest` and return its path.

    An existing file with the right checksum (or, for the official URL without one, any existing Geolife zip)
    is kept. The file name comes from the URL's last path segment, always directly inside `dest`.

    Parameters
    ----------
    dest
        The folder to put the zip in (created if missing).
    url
        Where to download from: https, http or file (tests, mirrors); all but `OFFICIAL_URL` need `sha256`.
    sha256
        The expected hex SHA-256; a mismatch deletes the download and raises.
    progress
        Show a rich progress bar.
    timeout_s
        Socket timeout.
    max_bytes
        The largest download accepted; a larger one is stopped and removed.

    Raises
    ------
    DatasetError
        A bad URL or digest, offline or the server refuses, too large, a checksum mismatch, or the download is
        not a Geolife zip.
    """
    want = sha256.lower().strip() if sha256 else None
    if want is not None and not _SHA256_HEX.fullmatch(want):
        raise DatasetError(f"--sha256 {sha256!r}: not a SHA-256 digest (64 hex digits expected)")
    _check_url(url, want)
    folder = Path(dest).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot create the destination folder ({exc.strerror})") from exc
    target = folder / _file_name(url)
    if target.resolve().parent != folder.resolve():  # belt and braces: the name is one plain segment
        raise DatasetError(f"{url}: the file name would leave {folder}")
    if target.is_file() and (want is None or sha256_of(target) == want):
        _check_zip(target)
        return target
    part = target.with_name(target.name + ".part")
    try:
        _download(url, part, progress=progress, timeout_s=timeout_s, max_bytes=max_bytes, pinned=want is None)
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


def _download(url: str, out: Path, *, progress: bool, timeout_s: float, max_bytes: int, pinned: bool) -> None:
    """Stream `url` into `out` (a fresh file, never through a link), at most `max_bytes` bytes.

    `pinned`: no digest will check the bytes, so the answer must still come over https.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "edgeroam"})
    with contextlib.suppress(FileNotFoundError):
        out.unlink()  # a stale .part, or a link planted in its place
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp, open(out, "xb") as fh:
            if pinned and urllib.parse.urlparse(resp.geturl()).scheme != "https":
                raise DatasetError(f"{url}: redirected to {resp.geturl()}, which is not https; refused")
            total = int(resp.headers.get("Content-Length") or 0) or None
            if total is not None and total > max_bytes:
                raise DatasetError(
                    f"{url}: the server announces {total:,} bytes, more than the {max_bytes:,}-byte limit"
                )
            blocks = _capped(iter(lambda: resp.read(_CHUNK), b""), url, max_bytes)
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
                    for block in blocks:
                        fh.write(block)
                        bar.advance(task, len(block))
            else:
                for block in blocks:
                    fh.write(block)
    except DatasetError:
        raise
    except urllib.error.HTTPError as exc:
        raise DatasetError(f"{url}: the server answered {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DatasetError(
            f"{url}: cannot download ({exc.reason}); are you offline? Download it by hand from "
            "https://www.microsoft.com/en-us/download/details.aspx?id=52367 and pass --root"
        ) from exc
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{url}: download failed ({exc})") from exc


def _capped(blocks: Iterator[bytes], url: str, max_bytes: int) -> Iterator[bytes]:
    """Pass `blocks` through, raising once more than `max_bytes` bytes came (whatever Content-Length said)."""
    seen = 0
    for block in blocks:
        seen += len(block)
        if seen > max_bytes:
            raise DatasetError(
                f"{url}: the download passed the {max_bytes:,}-byte limit; stopped and removed"
            )
        yield block


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
