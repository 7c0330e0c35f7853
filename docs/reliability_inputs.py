"""Feed every parser of edgeroam bad input on purpose and count what each input gets (docs/reliability.md).

    python docs/reliability_inputs.py            # 200 inputs per parser, seed 17; prints a Markdown table
    python docs/reliability_inputs.py --n 50     # a quicker pass

Each parser starts from a valid input and gets `n` seeded mutations of it: bytes flipped, deleted or inserted,
lines dropped, duplicated or swapped (times going backwards), cut short, emptied, or near-valid tokens
(``nan``, ``1e999``, ``-91``, ``25:00:00``, a stray CR, a NUL) put in. An outcome is "read" (a valid result;
for trace files with ``lenient`` too), a typed error of edgeroam (its class counted), or a defect: any other
exception, listed in full. Nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgeroam.errors import EdgeroamError

REPO = Path(__file__).resolve().parents[1]
PLT_HEADER = (b"Geolife trajectory\r\nWGS 84\r\nAltitude is in Feet\r\nReserved 3\r\n"
              b"0,2,255,My Track,0,0,2,8421376\r\n0\r\n")
PLT = PLT_HEADER + b"".join(
    f"39.98{k:02d},116.31{k:02d},0,492,39744.12,2008-10-23,02:53:{k:02d}\r\n".encode() for k in range(20))
LABELS = (b"Start Time\tEnd Time\tTransportation Mode\r\n2008/10/23 02:53:00\t2008/10/23 02:53:10\twalk\r\n"
          b"2008/10/23 02:53:11\t2008/10/23 02:59:00\tbus\r\n")
KAIST = b"".join(f"{30 * k:.13e}\t{-384.0 + k:.13e}\t{112.5 - k:.13e}\t\r\n".encode() for k in range(20))
# your own data (issue 27): a CSV table with local ISO times, a GPX file, SUMO FCD output
TABLE_CSV = b"id,time,lat,lon\r\n" + b"".join(
    f"{k % 3},2008-10-23 10:53:{k:02d},39.9{k:02d},116.4{k:02d}\r\n".encode() for k in range(20))
GPX = (b'<?xml version="1.0"?>\n<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n'
       + b"".join(f'<trkpt lat="39.9{k:02d}" lon="116.4{k:02d}"><time>2020-01-01T00:00:{k:02d}Z</time>'
                  "</trkpt>\n".encode() for k in range(20)) + b"</trkseg></trk></gpx>\n")
FCD = (b"<fcd-export>\n" + b"".join(
    f'<timestep time="{k}.00">\n<vehicle id="v{k % 3}" x="{k}.5" y="{2 * k}.25" speed="1.0"/>\n</timestep>\n'
    .encode() for k in range(20)) + b"</fcd-export>\n")
TOKENS = [b"nan", b"inf", b"1e999", b"-91", b"2008-02-30", b"25:00:00", b"\r", b"\x00", b"\xff\xfe", b",",
          b"\t", b" ", b'"', b"=", b"[", b"]", b"{", b"-", b"0", b"walk", b"\n"]


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One seeded mutation of `data` (see the module docstring)."""
    kind = int(rng.integers(9))
    b = bytearray(data)
    if kind == 0 and b:  # flip bytes
        for i in rng.integers(0, len(b), size=int(rng.integers(1, 4))):
            b[int(i)] = int(rng.integers(256))
    elif kind == 1 and b:  # delete a span
        i = int(rng.integers(len(b)))
        del b[i:i + int(rng.integers(1, 20))]
    elif kind == 2:  # insert a near-valid token
        i = int(rng.integers(len(b) + 1))
        b[i:i] = TOKENS[int(rng.integers(len(TOKENS)))]
    elif kind == 3:  # cut short
        b = b[: int(rng.integers(len(b) + 1))]
    elif kind == 4:  # empty, or whitespace only
        b = bytearray([b"", b"\r\n", b"   \r\n\r\n"][int(rng.integers(3))])
    else:  # line level: drop, duplicate, swap (time backwards), replace a field
        lines = bytes(b).split(b"\n")
        if len(lines) > 2:
            i, j = (int(v) for v in rng.integers(0, len(lines) - 1, size=2))
            if kind == 5:
                del lines[i]
            elif kind == 6:
                lines.insert(i, lines[j])
            elif kind == 7:
                lines[i], lines[j] = lines[j], lines[i]
            else:
                parts = lines[i].split(b",") if b"," in lines[i] else lines[i].split()
                if parts:
                    parts[int(rng.integers(len(parts)))] = TOKENS[int(rng.integers(len(TOKENS)))]
                lines[i] = (b"," if b"," in lines[i] else b"\t").join(parts)
        b = bytearray(b"\n".join(lines))
    return bytes(b)


def _geolife_folder(base: Path, plt: bytes, labels: bytes | None) -> Path:
    tdir = base / "Data" / "000" / "Trajectory"
    tdir.mkdir(parents=True)
    (tdir / "20081023025300.plt").write_bytes(plt)
    (tdir / "20081024000000.plt").write_bytes(PLT)
    if labels is not None:
        (base / "Data" / "000" / "labels.txt").write_bytes(labels)
    return base


def _traces(read: Callable[[bool], object]) -> str:
    """Strict, then lenient: "read" when both give a table; the error class of the strict read otherwise
    (a lenient read must then give a table or a typed error too)."""
    try:
        read(False)
        return "read"
    except EdgeroamError as exc:
        strict = type(exc).__name__
    try:
        read(True)
        return f"{strict} (lenient: read)"
    except EdgeroamError as exc:
        return f"{strict} (lenient: {type(exc).__name__})"


def run(n: int, seed: int) -> dict[str, Counter]:
    """Outcome counts per parser; defects are printed to stderr as they happen."""
    from edgeroam.datasets.geolife import read_geolife
    from edgeroam.datasets.gpx import read_gpx
    from edgeroam.datasets.kaist import read_kaist
    from edgeroam.datasets.regions import get_region
    from edgeroam.datasets.sumo import read_fcd
    from edgeroam.datasets.table import read_table
    from edgeroam.emulator.run import run_scenario
    from edgeroam.emulator.rundir import RunDir
    from edgeroam.scenario import load_scenario, scenario_from_dict

    rng = np.random.default_rng(seed)
    own_rng = np.random.default_rng([seed, 27])  # its own stream: the older parsers' inputs stay the same
    tmp = Path(tempfile.mkdtemp(prefix="edgeroam-reliability-"))
    demo_toml = (REPO / "scenarios" / "demo.toml").read_bytes()
    run_dir = run_scenario(REPO / "scenarios" / "demo.toml", tmp / "runs", progress=False,
                           overrides=['policy.kind="ionn"'])
    run_files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    zbuf = tmp / "valid.zip"
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Geolife Trajectories 1.3/Data/000/Trajectory/20081023025300.plt", PLT)
        zf.writestr("Geolife Trajectories 1.3/Data/000/labels.txt", LABELS)
    zip_bytes = zbuf.read_bytes()
    keys = ["policy.radius_m", "topology.radius_m", "dataset.kind", "dnn.model", "seed", "run.duration_s",
            "dataset.split.test_users", "topology.backhaul.shape", "nope", "policy", "a..b", ""]

    def case(k: int) -> dict[str, Callable[[], str]]:
        base = tmp / f"c{k}"
        base.mkdir()

        def plt():
            src = _geolife_folder(base / "plt", mutate(PLT, rng), None)
            return _traces(lambda lenient: read_geolife(src, lenient=lenient))

        def labels():
            src = _geolife_folder(base / "lab", PLT, mutate(LABELS, rng))
            return _traces(lambda lenient: read_geolife(src, lenient=lenient))

        def geolife_zip():
            z = base / "g.zip"
            z.write_bytes(mutate(zip_bytes, rng))
            return _traces(lambda lenient: read_geolife(z, lenient=lenient))

        def kaist():
            folder = base / "kaist"
            folder.mkdir()
            (folder / "KAIST_30sec_001.txt").write_bytes(mutate(KAIST, rng))
            (folder / "KAIST_30sec_002.txt").write_bytes(KAIST)
            return _traces(lambda lenient: read_kaist(folder, lenient=lenient))

        def scenario_file():
            p = base / "s.toml"
            p.write_bytes(mutate(demo_toml, rng))
            load_scenario(p)
            return "read"

        def set_option():
            key = keys[int(rng.integers(len(keys)))]
            value = mutate(b'"x"' if rng.integers(2) else b"100", rng).decode("utf-8", "replace")
            scenario_from_dict({"name": "x"}, overrides=[f"{key}={value}"])
            return "read"

        def region():
            valid = b"lonlat:116.3,39.9,116.4,39.95" if rng.integers(2) else b"metric:-1100,-700,400,1300"
            spec = mutate(valid, rng).decode("utf-8", "replace")
            get_region(spec)
            return "read"

        def run_directory():
            d = base / run_dir.name
            shutil.copytree(run_dir, d)
            f = d / run_files[int(rng.integers(len(run_files)))]
            if rng.integers(5) == 0:
                f.unlink()
            else:
                data = f.read_bytes()
                new = mutate(data, rng)
                f.write_bytes(new if new != data else data + b"\n")
            RunDir(d)
            return "read"

        def table():
            p = base / "t.csv"
            p.write_bytes(mutate(TABLE_CSV, own_rng))
            return _traces(lambda lenient: read_table(p, "user=id,t=time,lat=lat,lon=lon",
                                                      timezone="Asia/Shanghai", lenient=lenient))

        def gpx():
            p = base / "t.gpx"
            p.write_bytes(mutate(GPX, own_rng))
            return _traces(lambda lenient: read_gpx(p, lenient=lenient))

        def fcd():
            p = base / "fcd.xml"
            p.write_bytes(mutate(FCD, own_rng))
            return _traces(lambda lenient: read_fcd(p, lenient=lenient))

        return {".plt (Geolife)": plt, "labels.txt (Geolife)": labels, "Geolife zip": geolife_zip,
                "KAIST .txt": kaist, "scenario TOML": scenario_file, "--set key=value": set_option,
                "--region spec": region, "run directory (RunDir)": run_directory,
                "table CSV (your own data)": table, "GPX": gpx, "SUMO FCD": fcd}

    out: dict[str, Counter] = {}
    try:
        for k in range(n):
            for name, fn in case(k).items():
                try:
                    outcome = fn()
                except EdgeroamError as exc:
                    outcome = type(exc).__name__
                except Exception as exc:  # noqa: BLE001 - a defect: counted and shown in full
                    outcome = f"DEFECT {type(exc).__name__}"
                    traceback.print_exc(file=sys.stderr)
                out.setdefault(name, Counter())[outcome] += 1
            shutil.rmtree(tmp / f"c{k}", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="inputs per parser")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    counts = run(args.n, args.seed)
    print("| parser | inputs | outcomes |")
    print("|---|---:|---|")
    for name, c in counts.items():
        parts = ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
        print(f"| {name} | {sum(c.values())} | {parts} |")
    defects = sum(v for c in counts.values() for k, v in c.items() if k.startswith("DEFECT"))
    print(f"\ninputs: {sum(sum(c.values()) for c in counts.values())}, defects: {defects}")


if __name__ == "__main__":
    main()
