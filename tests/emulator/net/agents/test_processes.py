"""Agents as processes (``python -m``): started with a run secret in the environment, driven by an in-process
master over Unix sockets, ended by PID with SIGTERM; their logs hold the uploads, queries and transfers."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeroam.emulator.actions import Migrate, SetPlan
from edgeroam.emulator.dnn.zoo import model_graph
from edgeroam.emulator.net.agents.edge import held_layers
from edgeroam.emulator.net.agents.master import MasterAgent
from edgeroam.emulator.net.protocol import new_secret

MODEL = "mobilenet_v1"


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start an agent process; wait for its READY line (20 s)."""
    p = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, text=True)
    ready, _, _ = select.select([p.stdout], [], [], 60)
    line = p.stdout.readline() if ready else ""
    if not line.startswith("READY"):
        p.kill()
        p.wait(5)
        raise AssertionError(f"{args[0]} did not start: {line!r} {p.stderr.read()}")
    return p, line.split()[2]


def test_agent_processes_move_layers_and_answer_queries(tmp_path: Path) -> None:
    secret = new_secret()
    env = {**os.environ, "EDGEROAM_RUN_SECRET": secret.hex(), "OMP_NUM_THREADS": "1"}
    names = model_graph(MODEL).layers["name"].astype(str).tolist()
    (tmp_path / "secs.json").write_text(json.dumps([0.001] * len(names)))
    book = {n: f"unix:{tmp_path}/{n}.sock" for n in ("e1", "e2", "c7")}
    (tmp_path / "book.json").write_text(json.dumps(book))
    common = ["--run", "r1", "--book", str(tmp_path / "book.json")]
    procs: list[subprocess.Popen] = []
    plan = tuple(names[70:])
    try:
        for s in (1, 2):
            p, _ = start(["edgeroam.emulator.net.agents.edge", "--name", f"e{s}", "--listen", book[f"e{s}"],
                          "--server", str(s), "--model", MODEL, "--execution", "profile", "--seconds",
                          str(tmp_path / "secs.json"), "--speed", "4", "--log", str(tmp_path / f"e{s}.jsonl"),
                          *common], env)
            procs.append(p)
        p, _ = start(["edgeroam.emulator.net.agents.client", "--name", "c7", "--listen", book["c7"],
                      "--client", "7", "--model", MODEL, "--execution", "profile", "--seconds",
                      str(tmp_path / "secs.json"), "--speed", "4", "--query-gap-s", "0.05", "--log",
                      str(tmp_path / "c7.jsonl"), *common], env)
        procs.append(p)

        async def drive() -> dict:
            m = MasterAgent(name="master", listen=f"unix:{tmp_path}/m.sock", secret=secret, run="r1",
                            book=book)
            await m.start()
            try:
                await m.attach(7, 1)
                await m.apply([SetPlan(7, 1, plan)])
                t0 = time.monotonic()
                while True:
                    held = {r.meta["server"]: held_layers(r, names) for r in await m.reports()}
                    if held[1].get(7) == sorted(plan, key=names.index) or time.monotonic() - t0 > 20:
                        break
                    await asyncio.sleep(0.05)
                await m.queries(7, True)
                await asyncio.sleep(0.5)
                await m.queries(7, False)
                await m.apply([Migrate(7, 1, 2, plan)])
                while True:
                    held2 = {r.meta["server"]: held_layers(r, names) for r in await m.reports()}
                    if len(held2[2].get(7, [])) == len(plan) or time.monotonic() - t0 > 20:
                        break
                    await asyncio.sleep(0.05)
                return {"held": held, "held2": held2, "stats": await m.stats_of(["e1", "e2", "c7"])}
            finally:
                await m.close()

        out = asyncio.run(asyncio.wait_for(drive(), 90))
    finally:
        for p in procs:  # by PID, ours only
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(15))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait(5))
    assert codes == [0, 0, 0]
    assert len(out["held"][1][7]) == len(plan) and len(out["held2"][2][7]) == len(plan)
    assert all(s["dropped"] == {} for s in out["stats"].values())
    logs = {n: [json.loads(line) for line in (tmp_path / f"{n}.jsonl").read_text().splitlines()]
            for n in ("e1", "e2", "c7")}
    uploads = [e for e in logs["c7"] if e["event"] == "upload"]
    assert len(uploads) == 1 and uploads[0]["acked"] == list(plan)
    queries = [e for e in logs["c7"] if e["event"] == "query"]
    assert queries and all(q["hit"] and q["server"] == 1 for q in queries)
    transfers = [e for e in logs["e1"] if e["event"] == "transfer"]
    assert len(transfers) == 1 and transfers[0]["acked"] == list(plan) and transfers[0]["dst"] == 2
    # the speed factor 4 cut every layer's bytes to a quarter
    wb = model_graph(MODEL).layers["weight_bytes"].to_numpy()[70:]
    assert transfers[0]["bytes"] < wb.sum() / 3.5
    assert [e["event"] for e in logs["e2"]][-1] == "stats"


@pytest.mark.parametrize("bad", [["--execution", "profile"], ["--secret-file", "/nonexistent"]])
def test_agent_process_refuses_bad_options(tmp_path: Path, bad: list[str]) -> None:
    env = {**os.environ, "EDGEROAM_RUN_SECRET": new_secret().hex()}
    r = subprocess.run([sys.executable, "-m", "edgeroam.emulator.net.agents.edge", "--name", "e1", "--listen",
                        f"unix:{tmp_path}/e.sock", "--run", "r", "--server", "1", "--model", MODEL, *bad],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("edge: ") and "Traceback" not in r.stderr
