"""S2 classification of every planner and the cost measurement."""

from __future__ import annotations

import json

import pytest

from edgeroam.emulator.planning.taxonomy import PLANNERS, measure
from edgeroam.errors import PlanningError

DEPLOYMENTS = {"Co-Ends", "Co-Edges", "Edges-Ends", "Cloud-Ends", "Cloud-Edges", "Cloud-Edges-Ends"}


def test_every_planner_is_classified_in_s2_vocabulary() -> None:
    assert {"pso-ga", "ga", "greedy", "prepso", "lmu", "single-cutting", "scheduling-queuing",
            "shortest-path", "ionn-order", "two-step"} <= set(PLANNERS)
    for name, c in PLANNERS.items():
        assert c.deployment in DEPLOYMENTS, name
        assert c.granularity == "Layers" and c.objectives and c.algorithm and c.performances >= 1
        json.dumps(c.as_dict())
    assert PLANNERS["shortest-path"].deployment == "Edges-Ends"  # PerDNN's row of S2 Table 3


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_measure_runs_every_planner(name: str) -> None:
    m = measure(name, users=2, servers=3, iterations=2)
    assert m["seconds"] > 0 and m["peak_mib"] >= 0


def test_measure_rejects_unknown_and_bad_sizes() -> None:
    with pytest.raises(PlanningError, match="unknown planner"):
        measure("simulated-annealing")
    with pytest.raises(PlanningError, match="users"):
        measure("greedy", users=0)


def test_rows_that_s2_table4_rates_match_it() -> None:
    # S2 Table 4: (# performances, generalizability, scalability, self-adaptability)
    table4 = {"shortest-path": (2, True, True, True), "mincut": (2, True, True, True),
              "neurosurgeon": (3, True, False, True), "ionn-order": (3, True, False, True)}
    for name, (perf, general, scalable, adaptive) in table4.items():
        c = PLANNERS[name]
        got = (c.performances, c.general, c.scalable, c.adaptive)
        assert got == (perf, general, scalable, adaptive), name
