"""Geolife download over file:// URLs (checksum, bad archives, offline) and the `datasets fetch` command."""

from __future__ import annotations

import hashlib
import json
import socket
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
        fetch_geolife(tmp_path / "d1", url=junk.as_uri(), progress=False)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(DatasetError, match="no Geolife .plt"):
        fetch_geolife(tmp_path / "d2", url=other.as_uri(), progress=False)
    with pytest.raises(DatasetError, match="cannot download"):
        fetch_geolife(tmp_path / "d3", url=(tmp_path / "nowhere.zip").as_uri(), progress=False)
    with socket.socket() as s:  # a local port nobody listens on: connection refused, like being offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetError, match="are you offline"):
        fetch_geolife(tmp_path / "d4", url=f"http://127.0.0.1:{port}/g.zip", progress=False, timeout_s=5)
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
    res = runner.invoke(
        _app(), ["fetch", "geolife", "--dest", str(tmp_path / "d"), "--url", mirror.as_uri(), "--json"]
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

    code = main(
        ["datasets", "fetch", "geolife", "--dest", str(tmp_path / "d"), "--url", mirror.as_uri(), "--json"]
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
            "00",
        ]
    )
    assert code == 1
    assert "checksum mismatch" in capsys.readouterr().err
