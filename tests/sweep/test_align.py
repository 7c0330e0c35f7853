"""fig9.md's time-alignment table: what `align_metrics` reads back from a run directory."""

from __future__ import annotations

import pandas as pd
import pytest

from edgeroam.sweep.align import ALIGNMENTS, align_metrics


def _run_dir(tmp_path):
    # 3 ticks with 1, 2 and 3 clients; ticks 1 and 2 put 2 clients on server 5
    pd.DataFrame({"tick": [0, 1, 1, 2, 2, 2], "server": [4, 5, 5, 5, 5, 6]}).to_parquet(
        tmp_path / "predictions.parquet")
    # interval 0: server 5 sends 20 MB (peak up), server 6 receives 30 MB (peak down); 4 servers have traffic
    pd.DataFrame({"server": [5, 6, 7, 5], "interval": [0, 0, 0, 1],
                  "up_bytes": [20e6, 1e6, 0.0, 5e6], "down_bytes": [1e6, 30e6, 2e6, 0.0]}).to_parquet(
        tmp_path / "backhaul.parquet")
    pd.DataFrame({
        "kind": ["migrate", "migrate", "migrate", "upload", "migrate"],
        "client": ["a", "b", "a", "c", "d"],
        "src": [5, 5, 5, -1, 7],
        "dst": [6, 6, 7, 5, 6],
        "bytes": [10e6, 5e6, 5e6, 9e6, 25e6],
        "start": [0.0, 5.0, 10.0, 0.0, 2.0],
        "end": [15.0, 18.0, 25.0, 10.0, 19.0],
    }).to_parquet(tmp_path / "transfers.parquet")
    return tmp_path


def test_align_metrics_reads_concurrency_and_the_peak_servers_clients(tmp_path):
    m = align_metrics(_run_dir(tmp_path), interval_s=20.0, n_servers=10)
    assert (m["active_mean"], m["active_max"], m["crowd"]) == (2.0, 3, 2)
    # peak uplink: server 5 in interval 0, 20 MB over 20 s; its migrations: clients a, b to servers 6, 7
    assert m["peak_up_mbps"] == pytest.approx(8.0)
    assert (m["up_clients"], m["up_targets"]) == (2, 2)
    # peak downlink: server 6 in interval 0, receiving for a, b and d
    assert m["peak_down_mbps"] == pytest.approx(12.0) and m["down_clients"] == 3
    assert m["under_100_pct"] == 100.0  # every peak is below 100 Mbit/s


def test_the_alignments_start_with_the_default_and_replay_every_policy_there():
    label, sets, policies = ALIGNMENTS[0]
    assert (label, sets) == ("absolute", []) and set(policies) == {"perdnn", "ionn", "optimal"}
    assert all("perdnn" in p for _, _, p in ALIGNMENTS)
    assert {s.split("=")[1] for _, sets, _ in ALIGNMENTS[1:] for s in sets if "time_align" in s} == {
        '"day"', '"start"'}
