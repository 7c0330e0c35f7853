"""Rewrite the measured example of docs/topology.md's "Three tiers" section: slots against processor sharing.

    python docs/tiers_example.py                 # KAIST runs (a few minutes) + the edge agent on loopback
    python docs/tiers_example.py --out /tmp/t    # keep the run folders there (default: a temporary folder)
    python docs/tiers_example.py --s3            # only the S3 block: S3's policies on a cloud (a few minutes)

The sim rows are `edgeroam run perdnn-kaist --model inception` with ``[topology.tiers]`` (S0's rates) and the
settings in the first column; the net rows are the edge agent (`edgeroam.emulator.net.agents.edge`) on
loopback sockets with profiled layers of 0.4 s, three clients' queries sent 50 ms apart, waits measured.
The S3 rows run `perdnn-kaist` (Inception, CPU edge servers, one cloud server, EosDNN's literal 5 MB/s
edge-cloud rate) in process with PerDNN's policy and S3's two (`s3-single`, `s3`), counting from the sim's
`CloudTails` how often a cut sent a tail to the cloud and what the cloud's queue did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

DOC = Path(__file__).with_name("topology.md")
BEGIN, END = "<!-- tiers-example begin -->", "<!-- tiers-example end -->"
S3_BEGIN, S3_END = "<!-- tiers-s3 begin -->", "<!-- tiers-s3 end -->"
S3_BASE = ["topology.tiers.links=literal", "dnn.server=i7-7700", "topology.backhaul.cloud.enabled=true"]
S3_CASES = {  # label -> --set overrides after S3_BASE
    "slots 1 / 2 / 8, cloud queue 20 (S3)": [],
    "slots 1 / 1 / 1, cloud queue 1": ["topology.tiers.slots={client=1,edge=1,cloud=1}",
                                       "topology.tiers.cloud_queue=1"],
}
CASES = {  # label -> --set overrides (after topology.tiers.links = "s0")
    "compute = shared (processor sharing)": ["topology.tiers.compute=shared"],
    "slots 1 / 2 / 8 (the default)": [],
    "slots 1 / 1 / 8": ["topology.tiers.slots={client=1,edge=1,cloud=8}"],
}
PROFILES = ("titan-xp", "i7-7700")


def md_table(df: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def sim_rows(out: Path) -> pd.DataFrame:
    rows = []
    for prof in PROFILES:
        for label, sets in CASES.items():
            args = ["--set", "topology.tiers.links=s0", "--set", f"dnn.server={prof}"]
            for s in sets:
                args += ["--set", s]
            where = out / f"{prof}-{len(rows)}"
            t0 = time.perf_counter()
            cli = str(Path(sys.executable).with_name("edgeroam"))
            subprocess.run([cli, "run", "perdnn-kaist", "--model", "inception", *args, "--out", str(where),
                            "--no-progress"], check=True, capture_output=True)
            secs = time.perf_counter() - t0
            run = next(where.iterdir())
            summary = json.loads((run / "summary.json").read_text())
            q = pd.read_parquet(run / "queries.parquet")
            lat = q["latency_s"].repeat(q["queries"])
            rows.append({"server": prof, "tiers": label, "executed queries": summary["executed_queries"],
                         "mean latency ms": round(1e3 * float(lat.mean()), 1),
                         "p99 latency ms": round(1e3 * float(lat.quantile(0.99)), 1),
                         "max latency ms": round(1e3 * float(lat.max()), 1), "run s": round(secs)})
    return pd.DataFrame(rows)


def net_rows() -> pd.DataFrame:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "emulator" / "net" / "agents"))
    from test_edge import _three_queries  # the test's own measurement, reused

    rows = []
    for slots, queue in ((1, 1), (2, None)):
        for i, m in enumerate(_three_queries(slots, queue)):
            rows.append({"edge": f"slots {slots}, queue {queue or 'unbounded'}",
                         "query (sent at)": f"{50 * i} ms",
                         "wait ms": round(1e3 * m["wait_s"]), "blocked ms": round(1e3 * m["blocked_s"]),
                         "run ms": round(1e3 * m["exec_s"])})
    return pd.DataFrame(rows)


def s3_rows() -> pd.DataFrame:
    from edgeroam.emulator.master import run_pass
    from edgeroam.emulator.policies import make_policy
    from edgeroam.emulator.prepare import prepare
    from edgeroam.emulator.run import _resolve
    from edgeroam.emulator.sim.driver import Sim
    from edgeroam.world import load_world

    rows = []
    for label, sets in S3_CASES.items():
        sc = _resolve("perdnn-kaist", [*S3_BASE, *sets, "dnn.model=inception"])
        prep = prepare(sc, load_world(sc))
        n = prep.planner.n_layers
        for kind in ("perdnn", "s3-single", "s3"):
            sim = Sim()
            res = run_pass(prep, make_policy(kind), backend=sim)
            q = res.tables["queries"]
            lat = q["latency_s"].repeat(q["queries"])
            st = pd.DataFrame(sim.tails.stats, columns=["server", "queries", "blocked", "waited", "edge_wait",
                                                        "cloud_wait"])
            chosen = sim.tails.chosen
            moved = sum(v for cut, v in chosen.items() if cut < n)
            rows.append({"tiers": label, "policy": kind, "executed queries": res.summary["executed_queries"],
                         "mean latency ms": round(1e3 * float(lat.mean()), 1),
                         "p99 latency ms": round(1e3 * float(lat.quantile(0.99)), 1),
                         "plans": sum(chosen.values()), "cuts to the cloud": moved,
                         "cloud from layer (count)": ", ".join(f"{c} ({v})" for c, v in sorted(chosen.items())
                                                               if c < n) or "-",
                         "queries waiting at the cloud": int(st["waited"].sum()),
                         "queries blocked (cloud queue full)": int(st["blocked"].sum()),
                         "largest mean edge wait of a window ms": round(1e3 * float(st["edge_wait"].max()), 1)
                         if len(st) else 0.0})
    return pd.DataFrame(rows)


def write_block(begin: str, end: str, body: str, how: str) -> None:
    """Replace the text between `begin` and `end` in topology.md by `body` under a generated-by line."""
    doc = DOC.read_text()
    head, rest = doc.split(begin, 1)
    DOC.write_text(f"{head}{begin}\n*Generated by `{how}`; do not edit, rerun it.*\n\n{body}\n{end}"
                   + rest.split(end, 1)[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="keep the run folders here")
    ap.add_argument("--s3", action="store_true", help="only the S3 block")
    a = ap.parse_args()
    write_block(S3_BEGIN, S3_END, md_table(s3_rows()), "python docs/tiers_example.py --s3")
    if a.s3:
        print(f"wrote the tiers S3 block into {DOC}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        sim = sim_rows(a.out or Path(tmp))
    net = asyncio.run(asyncio.to_thread(net_rows))
    block = (f"{BEGIN}\n*Generated by `python docs/tiers_example.py`; do not edit, rerun it.*\n\n"
             f"{md_table(sim)}\n\n{md_table(net)}\n{END}")
    doc = DOC.read_text()
    head, rest = doc.split(BEGIN, 1)
    DOC.write_text(head + block + rest.split(END, 1)[1])
    print(f"wrote the tiers example into {DOC}")


if __name__ == "__main__":
    main()
