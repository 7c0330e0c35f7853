"""Geolife download over file:// URLs (checksum, bad archives, offline) and the `datasets fetch` command."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import socket
import threading
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from edgeroam.commands.datasets_fetch import register
from edgeroam.datasets.fetch import OFFICIAL_URL, fetch_geolife, kaist_instructions, sha256_of
from edgeroam.errors import DatasetError

PLT = b"Geolife trajectory\r\nWGS 84\r\nx\r\nx\r\nx\r\n0\r\n39.9,116.3,0,0,1,2008-01-01,00:00:00\r\n"


@pytest.fixture
def mirror(tmp_path) -> Path:
    """A tiny Geolife-layout zip named like the official one, served from a file:// URL."""
    src = tmp_path / "mirror" / "Geolife Trajectories 1.3.zip"
    src.parent.mkdir()
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("Geolife Trajectories 1.3/Data/000/Trajectory/20080101000000.plt", PLT)
    return src


def test_fetch_file_url_with_checksum(mirror, tmp_path):
    digest = hashlib.sha256(mirror.read_bytes()).hexdigest()
    dest = tmp_path / "data"
    path = fetch_geolife(dest, url=mirror.as_uri(), sha256=digest.upper(), progress=False)
    assert path == dest / "Geolife Trajectories 1.3.zip"
    assert path.read_bytes() == mirror.read_bytes() and sha256_of(path) == digest
    assert not list(dest.glob("*.part"))
    # already there with the right checksum: kept, no download (the mirror may vanish)
    mirror.unlink()
    assert fetch_geolife(dest, url=mirror.as_uri(), sha256=digest, progress=True) == path


def test_checksum_mismatch_removes_the_download(mirror, tmp_path):
    dest = tmp_path / "data"
    with pytest.raises(DatasetError, match="checksum mismatch: expected sha256 0{64}"):
        fetch_geolife(dest, url=mirror.as_uri(), sha256="0" * 64, progress=True)
    assert list(dest.iterdir()) == []


def test_not_a_geolife_zip_and_unreachable(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(DatasetError, match="not a zip file"):
        fetch_geolife(tmp_path / "d1", url=junk.as_uri(), sha256=sha256_of(junk), progress=False)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(DatasetError, match="no Geolife .plt"):
        fetch_geolife(tmp_path / "d2", url=other.as_uri(), sha256=sha256_of(other), progress=False)
    with pytest.raises(DatasetError, match="cannot download"):
        fetch_geolife(
            tmp_path / "d3", url=(tmp_path / "nowhere.zip").as_uri(), sha256="0" * 64, progress=False
        )
    with socket.socket() as s:  # a local port nobody listens on: connection refused, like being offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetError, match="are you offline"):
        fetch_geolife(
            tmp_path / "d4",
            url=f"http://127.0.0.1:{port}/g.zip",
            sha256="0" * 64,
            progress=False,
            timeout_s=5,
        )
    assert OFFICIAL_URL.startswith("https://download.microsoft.com/")


def test_kaist_instructions_name_dataport_and_layout(tmp_path):
    text = kaist_instructions(tmp_path)
    assert "ieee-dataport.org" in text and "Traces_TimeXY_30sec_txt" in text
    assert str(tmp_path / "KAIST" / "KAIST_30sec_001.txt") in text


def _app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)

    @app.callback()
    def _datasets() -> None:
        """datasets"""

    register(app)
    return app


def test_fetch_command(mirror, tmp_path):
    runner = CliRunner()
    digest = sha256_of(mirror)
    res = runner.invoke(
        _app(),
        [
            "fetch",
            "geolife",
            "--dest",
            str(tmp_path / "d"),
            "--url",
            mirror.as_uri(),
            "--sha256",
            digest,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["sha256"] == sha256_of(mirror) and Path(info["path"]).exists()
    res = runner.invoke(_app(), ["fetch", "kaist", "--dest", str(tmp_path / "k")])
    assert res.exit_code == 0 and "IEEE DataPort" in res.output
    res = runner.invoke(
        _app(),
        ["fetch", "geolife", "--dest", str(tmp_path / "e"), "--url", mirror.as_uri(), "--sha256", "ab"],
    )
    assert res.exit_code != 0 and isinstance(res.exception, DatasetError)


def test_fetch_through_the_root_cli(mirror, tmp_path, capsys):
    from edgeroam.cli import main

    digest = sha256_of(mirror)
    code = main(
        ["datasets", "fetch", "geolife", "--dest", str(tmp_path / "d"), "--url", mirror.as_uri()]
        + ["--sha256", digest, "--json"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["bytes"] == mirror.stat().st_size
    code = main(
        [
            "datasets",
            "fetch",
            "geolife",
            "--dest",
            str(tmp_path / "e"),
            "--url",
            mirror.as_uri(),
            "--sha256",
            "0" * 64,
        ]
    )
    assert code == 1
    assert "checksum mismatch" in capsys.readouterr().err


# ------------------------------------------------------------------ hostile URLs, over a local HTTP server


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the server's `body` (whatever the path), or streams `endless` bytes."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        srv = self.server
        if srv.endless:  # no Content-Length, more bytes than any cap
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(srv.endless):
                    self.wfile.write(b"\0" * 65536)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(srv.announce or len(srv.body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(srv.body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server(mirror):
    """A real HTTP server on 127.0.0.1 serving the mirror zip at every path."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.body, srv.announce, srv.endless = mirror.read_bytes(), None, 0
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "path",
    [
        "%2F{outside}%2Fabs.zip",  # percent-encoded absolute path
        "..%2F..%2Fescape.zip",  # percent-encoded ..
        "..%2f..%2f..%2foutside%2fescape.zip",
        "a/..%2F..%2Fescape.zip",
        "%2e%2e%2F%2e%2e%2Fescape.zip",  # encoded dots too
        "..%5C..%5Cescape.zip",  # backslashes
        "..",
        "%2e%2e",
        "",
    ],
)
def test_url_path_never_leaves_dest(server, tmp_path, path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "box" / "dest"
    url = f"http://127.0.0.1:{server.server_port}/" + path.format(outside=str(outside).lstrip("/"))
    digest = hashlib.sha256(server.body).hexdigest()
    got = fetch_geolife(dest, url=url, sha256=digest, progress=False, timeout_s=10)
    assert got.parent == dest and got.read_bytes() == server.body
    assert {p for p in _files_under(tmp_path) if "mirror" not in p.parts} == {got}
    assert not list(outside.iterdir())


def test_plain_url_name_is_kept(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_port}/mirror/My%20Geolife.zip?x=1"
    got = fetch_geolife(
        tmp_path / "d", url=url, sha256=hashlib.sha256(server.body).hexdigest(), progress=False
    )
    assert got == tmp_path / "d" / "My Geolife.zip"


def test_a_digest_is_required_off_the_official_url(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_port}/g.zip"
    with pytest.raises(DatasetError, match="needs its expected digest; pass --sha256"):
        fetch_geolife(tmp_path / "d", url=url, progress=False)
    with pytest.raises(DatasetError, match="not a SHA-256 digest"):
        fetch_geolife(tmp_path / "d", url=url, sha256="abc", progress=False)
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").iterdir())


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/g.zip", "data:,hello", "gopher://x/g.zip", "g.zip"])
def test_other_schemes_are_refused(tmp_path, url):
    with pytest.raises(DatasetError, match="unsupported URL scheme"):
        fetch_geolife(tmp_path / "d", url=url, sha256="0" * 64, progress=False)


def test_announced_size_over_the_cap_is_refused(server, tmp_path):
    server.announce = 10 << 30  # claims 10 GiB; refused before any byte is written
    url = f"http://127.0.0.1:{server.server_port}/g.zip"
    with pytest.raises(DatasetError, match="announces 10,737,418,240 bytes, more than the 1,000-byte limit"):
        fetch_geolife(tmp_path / "d", url=url, sha256="0" * 64, progress=False, max_bytes=1000, timeout_s=10)
    assert list((tmp_path / "d").iterdir()) == []


@pytest.mark.parametrize("progress", [False, True])
def test_endless_download_is_cut_at_the_cap(server, tmp_path, progress):
    server.endless = 1000  # 64 MB without a Content-Length
    url = f"http://127.0.0.1:{server.server_port}/g.zip"
    with pytest.raises(DatasetError, match="passed the 1,048,576-byte limit; stopped and removed"):
        fetch_geolife(
            tmp_path / "d", url=url, sha256="0" * 64, progress=progress, max_bytes=1 << 20, timeout_s=10
        )
    assert list((tmp_path / "d").iterdir()) == []


def test_a_planted_part_link_is_not_followed(server, tmp_path):
    dest = tmp_path / "d"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (dest / "g.zip.part").symlink_to(victim)
    url = f"http://127.0.0.1:{server.server_port}/g.zip"
    got = fetch_geolife(dest, url=url, sha256=hashlib.sha256(server.body).hexdigest(), progress=False)
    assert victim.read_text() == "keep me" and got.read_bytes() == server.body


def test_fetch_command_max_mb(server, tmp_path, capsys):
    from edgeroam.cli import main

    server.endless = 100
    url = f"http://127.0.0.1:{server.server_port}/g.zip"
    code = main(
        ["datasets", "fetch", "geolife", "--dest", str(tmp_path / "d"), "--url", url]
        + ["--sha256", "0" * 64, "--max-mb", "1", "--no-progress"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "1,048,576-byte limit" in err and "Traceback" not in err


def test_official_url_needs_no_digest_and_keeps_an_existing_zip(mirror, tmp_path):
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / "Geolife Trajectories 1.3.zip").write_bytes(mirror.read_bytes())  # no network is touched
    assert fetch_geolife(dest, progress=False) == dest / "Geolife Trajectories 1.3.zip"
