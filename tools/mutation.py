"""`make mutation`: mutmut over the core modules, each against its own package's tests; prints the kill rate.

Why a driver: mutmut reads one configuration per project, but each module here is to be checked with the tests
of its own package only (a bug in `hexgrid` must be caught by `tests/topology`, not by an emulator run that
happens to cross it). So every module gets a scratch copy of the project under ``.cache/mutation/<module>``
with its own ``[tool.mutmut]`` (that module, those tests), and mutmut runs there; the working tree is never
touched. Results are read from mutmut's ``mutants/**.meta`` files.

Kill rate = killed / (mutants - equivalent): a mutant no test reaches ("no tests") counts as surviving, one
that makes the tests run past mutmut's time limit ("timeout", e.g. an endless loop) as killed.
`EQUIVALENT` lists the mutants that cannot change behaviour, each with why; mutmut names mutants by function
and a running number, so an entry must be revisited when its function changes (a stale name is reported).

Usage: ``python tools/mutation.py [--jobs N] [--only SUBSTR] [--report] [--survivors] [--slow] [--docs]
[--min-rate 95]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cache" / "mutation"

#: per-mutant time limit: (clean time of the mutant's tests + constant s) x multiplier of wall time
TIMEOUT_MULTIPLIER = 5.0
TIMEOUT_CONSTANT = 3.0
#: the tests of the emulator package's own modules. test_run.py (run.py's: whole runs through the CLI and run
#: directories, one to four minutes per mutant on a loaded 2-core machine) and test_rundir.py (subprocesses)
#: are left out; so is the one test that starts a Python subprocess to check what the master imports
_EMULATOR_TESTS = [f"tests/emulator/test_{m}.py" for m in ("metrics", "master", "actions", "backend")]
_DESELECT = ["tests/emulator/test_backend.py::test_the_master_never_imports_sim"]
#: module -> the tests of its own package (globs) that must catch its bugs
MODULES: dict[str, list[str]] = {
    "edgeroam/emulator/sim/fluid.py": ["tests/emulator/sim"],
    "edgeroam/emulator/sim/backend.py": ["tests/emulator/sim"],
    "edgeroam/emulator/policies/base.py": ["tests/emulator/policies"],
    "edgeroam/emulator/metrics.py": _EMULATOR_TESTS,
    "edgeroam/emulator/backend.py": _EMULATOR_TESTS,
    "edgeroam/emulator/master.py": _EMULATOR_TESTS,
    "edgeroam/emulator/actions.py": _EMULATOR_TESTS,
    "edgeroam/topology/hexgrid.py": ["tests/topology"],
    "edgeroam/datasets/regions.py": ["tests/datasets"],
    "edgeroam/datasets/resample.py": ["tests/datasets"],
    "edgeroam/mobility/replay.py": ["tests/mobility"],
    "edgeroam/predictors/markov.py": ["tests/predictors"],
    # where the seam (issue 19) moved code of the modules above: the sim's moves, settling and query windows
    # (from sim/backend.py) and the policies' targets and migrations (from policies/base.py)
    "edgeroam/emulator/sim/driver.py": ["tests/emulator/sim"],
    "edgeroam/emulator/policies/targets.py": ["tests/emulator/policies"],
}

_ANY_GROUPING = ("max_min_rates only needs the flows grouped by link (each group is reduced with a minimum "
                 "and filtered), so a stable or unstable argsort gives the same rates")
_SAME_LENGTH = ("zip over two arrays the class keeps the same length at all times, so strict=True, False or "
                "None give the same pairs")
_FLUID = "edgeroam.emulator.sim.fluid."
_MARKOV = "edgeroam.predictors.markov.xǁMarkovPredictorǁ"
_MARKOV_WHY = {
    "_cells__mutmut_1": "cell_ids_of already returns the shape w.shape[:-1]; reshape(None) keeps it",
    "fit__mutmut_76": "zip over starts[:-1] and starts[1:], equal lengths by construction",
    "fit__mutmut_79": "zip over starts[:-1] and starts[1:], equal lengths by construction",
    "fit__mutmut_83": "zip over starts[:-1] and starts[1:], equal lengths by construction",
    "predict__mutmut_5": "predict reads only column 0 of predict_cells, the same for k = 1 and the default 2",
    "predict__mutmut_6": "predict reads only column 0 of predict_cells, the same for k = 1 and k = 2",
    "predict__mutmut_20": "HexGrid.center returns float64 arrays: asarray(dtype=float64) changes nothing",
    "predict__mutmut_22": "HexGrid.center returns float64 arrays: asarray(dtype=float64) changes nothing",
    "predict__mutmut_24": "HexGrid.center returns float64 arrays: asarray(dtype=float64) changes nothing",
    "predict__mutmut_26": "HexGrid.center returns float64 arrays: asarray(dtype=float64) changes nothing",
    "predict_cells__mutmut_12": "np.full with the Python int NO_CELL is int64 without the dtype",
    "predict_cells__mutmut_15": "np.full with the Python int NO_CELL is int64 without the dtype",
    "_state__mutmut_3": "the order the contexts are stored in is lost on load (they become dict keys)",
    "_state__mutmut_5": "the order the contexts are stored in is lost on load (they become dict keys)",
    "_state__mutmut_16": "a wider ctx array only adds zero padding; load reads ctx[i, :len] only",
    "_state__mutmut_19": "lengths from Python ints are int64 without the dtype",
    "_state__mutmut_21": "lengths from Python ints are int64 without the dtype",
    "_state__mutmut_46": "the dtype or an extra element of the arrays of an empty tree is never read on load",
    "_state__mutmut_48": "the dtype or an extra element of the arrays of an empty tree is never read on load",
    "_state__mutmut_49": "the dtype or an extra element of the arrays of an empty tree is never read on load",
    "_state__mutmut_56": "the dtype or an extra element of the arrays of an empty tree is never read on load",
}


def _eq(prefix: str, numbers: tuple[int | str, ...], why: str) -> dict[str, str]:
    """EQUIVALENT entries: mutants `prefix`<n> for n in `numbers`, all for the same reason."""
    return {f"{prefix}{n}": why for n in numbers}


_REPLAY = "edgeroam.mobility.replay.xǁReplayǁ__init____mutmut_"
_RESAMPLE = "edgeroam.datasets.resample.x_resample__mutmut_"
_BACKEND = "edgeroam.emulator.backend.x_"
_BACKHAUL = "edgeroam.emulator.sim.backend.xǁSimBackendǁbackhaul__mutmut_"
_COVER = "edgeroam.topology.hexgrid.xǁHexGridǁcells_covering__mutmut_"
_WITHIN = "edgeroam.topology.hexgrid.xǁHexGridǁcells_within__mutmut_"
_HEX = "edgeroam.topology.hexgrid.xǁHexGridǁ"
_REGIONS = "edgeroam.datasets.regions.x_"
_KAIST = "edgeroam.datasets.regions.x_kaist_rectangle__mutmut_"
_MASTER = "edgeroam.emulator.master.xǁMasterǁ"
_ACTIONS = "edgeroam.emulator.actions."
_MMR = "edgeroam.emulator.sim.fluid.x_max_min_rates__mutmut_"
_NET = "edgeroam.emulator.sim.fluid.xǁFluidNetworkǁ"
_NO_BINS = "without interval_s no bin is ever made, so the fallback width is never used"
_SIMB = "edgeroam.emulator.sim.backend.xǁSimBackendǁ"
_CACHE = "a cache: a miss computes the same value again"
_MET = "edgeroam.emulator.metrics.x_"
_MORE_EQUIVALENT: dict[str, str] = {
    **_eq(_MET + "storage_summary__mutmut_", (2, 15, 17), "holding times and tick times are float64 already "
          "(the log's astype, the master's array): no cast needed"),
    **_eq(_MET + "storage_summary__mutmut_", (60, 65), "the byte and copy deltas are int64: their cumulative "
          "sums are exact in int64 and float64 alike below 2**53"),
    **_eq(_MET + "everywhere_holdings__mutmut_", (20, 22, 37, 39), "lists of Python ints or floats are int64 "
          "or float64 without the dtype"),
    **_eq("edgeroam.emulator.sim.driver.xǁSimǁstart__mutmut_", (3, 6, 7, 8), "the edge server list only "
          "reaches SimBackend._servers, which is never read"),
    **_eq(_MET + "arrival_table__mutmut_", (70, 76), "with no query run the map gives NaN for every row, "
          "filled with 0 and cast to int64 whatever the empty series was"),
    **_eq(_MET + "prediction_table__mutmut_", (9, 12), "np.full with the Python int tick index is int64 "
          "without the dtype"),
    **_eq(_SIMB + "__init____mutmut_", (6,), "execute() sets the relay orders before any read, and _land "
          "only tests them for truth"),
    **_eq(_SIMB + "__init____mutmut_", (27, 29), "layer weights come as int64 (Planner.weight_bytes) or "
          "Python ints: asarray keeps them int64"),
    **_eq(_SIMB + "__init____mutmut_", (42,), "self._servers is never read (a dead attribute)"),
    **_eq(_SIMB + "_add__mutmut_", (26,), "at n == server_plans _evict drops nothing: its loop stops while "
          "the server holds <= server_plans"),
    **_eq(_SIMB + "_arrive__mutmut_", (16, 17, 18, 19, 20, 21), "a finished sender left in the in-flight "
          "list is skipped by settle (its current event is None)"),
    **_eq(_SIMB + "_arrive__mutmut_", (4,), "_land does not use the start time"),
    **_eq(_SIMB + "settle__mutmut_", (34,), "_land does not use the start time"),
    **_eq(_SIMB + "_cancel_upload__mutmut_", (13,), "a cancelled sender's current event is never read again"),
    **_eq(_SIMB + "_cancel_upload__mutmut_", (24,), "None stored in a bool array is False"),
    **_eq(_SIMB + "_land__mutmut_", (26,), "None stored in a bool array is False"),
    **_eq(_SIMB + "settle__mutmut_", (16,), "a flow cancelled in the fluid network never fires, so its "
          "sender's flag is never read"),
    **_eq(_SIMB + "settle__mutmut_", (47, 48, 49, 50, 51), "the rest is marked pending again by _sender "
          "right after (and an empty rest touches nothing)"),
    **_eq(_SIMB + "settle__mutmut_", (6, 7), "a sender in the in-flight list is neither cancelled nor "
          "without a current event (settle pops the list; finished senders are removed)"),
    **_eq(_SIMB + "_drop__mutmut_", (20,), "a stale expiry is overwritten by _refresh whenever the key is "
          "held again, and skipped when it is not"),
    **_eq(_SIMB + "_drop__mutmut_", (29,), "with server_plans every held key was touched, so it is in the "
          "LRU record; without, there is no record"),
    **_eq(_SIMB + "_evict__mutmut_", (6,), "break and return both end the function: nothing follows the "
          "loop"),
    **_eq(_SIMB + "_indices__mutmut_", (1, 2, 11), _CACHE),
    **_eq(_SIMB + "_path__mutmut_", (2, 3), _CACHE + " (adding known links is a no-op)"),
    **_eq(_SIMB + "_land__mutmut_", (34,), "with no relay orders, {}.get gives None as the else branch does"),
    **_eq(_SIMB + "_next_chunk__mutmut_", (14, 15, 16, 17), "a finished upload left registered is a no-op "
          "when cancelled (no current event, no chunk left)"),
    **_eq(_SIMB + "_next_chunk__mutmut_", (35, 37, 44, 48), "the backend never reads a record's tag"),
    **_eq(_SIMB + "_refresh__mutmut_", (1,), "the LRU record is only used with server_plans"),
    **_eq(_SIMB + "_refresh__mutmut_", (9,), "duplicate keys in an expiry bucket are deduplicated when it is "
          "processed"),
    **_eq(_SIMB + "_sender__mutmut_", (25,), "the chunk bounds are distinct and increasing, so hi > lo "
          "always"),
    **_eq(_SIMB + "_set_plan__mutmut_", (33,), "an upload's route delay is never used (Wi-Fi chunks run on "
          "the cell, not the fluid network)"),
    **_eq(_SIMB + "_touch__mutmut_", (7,), "the LRU record's values are never read"),
    **_eq(_SIMB + "execute__mutmut_", (9,), "unreachable: sort_actions refuses anything but the three "
          "actions"),
    **_eq(_MMR, (29,), "with no shared link the progressive filling gives each flow its smallest "
          "capacity too: the fast path only saves the rounds"),
    **_eq(_MMR, (21, 23), "flow_links are link indices (ndarray of int, as documented): asarray "
          "keeps them int"),
    **_eq(_MMR, (37, 39), "np.maximum with the float 0.0 and the float64 rates array give the same "
          "values for any numeric capacity"),
    **_eq(_MMR, (73,), "fmin is read only at the flows set in the same round (an object array holds the same "
          "floats)"),
    **_eq(_MMR, (80, 82, 110, 111), "bottleneck is read only at links with unfrozen flows (lids), each set "
          "every round, and only for truth"),
    **_eq(_MMR, (91,), "share is read only at links with unfrozen flows (lids), each set every round"),
    **_eq(_NET + "__init____mutmut_", (9, 11), "a list of Python floats is float64 without the dtype"),
    **_eq(_NET + "__init____mutmut_", (35,), "the buffer's spare room only changes when it grows, never a "
          "value in the views"),
    **_eq(_NET + "__init____mutmut_", (58, 60), "flow ids become floats that compare and hash equal to the "
          "ints (exact below 2**53), as dict keys and in every comparison"),
    **_eq(_NET + "add_links__mutmut_", (31, 35, 40, 41), "the buffer's spare room only changes when it grows "
          "next, never a value in the views"),
    **_eq(_NET + "add_links__mutmut_", (6, 8), "a list of Python floats is float64 without the dtype"),
    **_eq(_NET + "transfer__mutmut_", (6, 8), "a list of Python ints is int64 without the dtype"),
    **_eq(_NET + "_merge_new__mutmut_", (5, 7, 16, 18), "a list of Python ints is int64 without the dtype"),
    **_eq(_NET + "_merge_new__mutmut_", (11,), "_recompute assigns every flow's rate right after the merge, "
          "before any read"),
    **_eq(_NET + "_recompute__mutmut_", (44, 45, 46, 47, 55, 59), "every rate is > 0 (max-min shares of "
          "positive capacities), so no division by zero happens and the inf branch is never taken"),
    **_eq(_NET + "_recompute__mutmut_", (79,), "NORMAL is the default priority of Engine.schedule"),
    **_eq(_NET + "_account__mutmut_", (4,), "_advance calls it only when time passed (dt > 0)"),
    **_eq(_NET + "_advance__mutmut_", (4,), "when no time passed, remaining -= rate * 0 and the accounting "
          "returns at once: nothing changes"),
    **_eq(_NET + "interval_bytes__mutmut_", (9, 12), "np.full with a Python int is int64 without the dtype"),
    **_eq(_NET + "interval_bytes__mutmut_", (29, 31, 43, 56, 57), "with no traffic the link column is built "
          "without indexing names by ls; every empty variant is an empty object column"),
    **_eq(_NET + "interval_bytes__mutmut_", (38, 40), "pandas makes a column of strings from a str or an "
          "object array alike"),
    **_eq(_NET + "interval_bytes__mutmut_", (52,), _NO_BINS),
    **_eq(_NET + "node_interval_bytes__mutmut_", (66,), _NO_BINS),
    **_eq(_NET + "node_interval_bytes__mutmut_", (6, 8), "a list of Python ints is int64 without the dtype"),
    **_eq(_NET + "node_interval_bytes__mutmut_", (24, 26, 31, 33, 69), "the groups and the node values are "
          "the same for a str or object series; the node column is made object either way"),
    **_eq(_NET + "interval_matrix__mutmut_", (3, 5), "a sorted list of Python ints is int64 "
          "without the dtype"),
    **_eq(_ACTIONS + "x__plain_layers__mutmut_", (1, 4), "a value kept off the fast path is validated and "
          "normalised by the slow path to the same action"),
    **_eq(_ACTIONS + "x__as_layers__mutmut_", (6,), "_layers_problem(None) raises TypeError, and the "
          "fallback checks the same layers uncached: the same answer"),
    **_eq(_ACTIONS + "xǁMigrateǁ__post_init____mutmut_", (6, 8, 10, 12, 15), "a Migrate kept off the fast "
          "path is validated and normalised by the slow path to the same action"),
    **_eq(_ACTIONS + "x_sort_actions__mutmut_", (3, 4, 5), "the kind rank keeps SetPlan < Migrate < Drop and "
          "the last key element is the same for every action of a kind"),
    **_eq(_MASTER + "run__mutmut_", (139, 141), "a pass takes time: wall > 0 always"),
    **_eq(_MASTER + "moves__mutmut_", (10, 14, 15), "zip over three lists made from the same tick, equal "
          "lengths by construction"),
    **_eq(_MASTER + "visits__mutmut_", (6,), "with no tick the server array is empty too, and its empty mask "
          "selects nothing from codes whatever their length"),
    **_eq(_MASTER + "storage__mutmut_", (19,), "np.array([]) is the same empty float64 array as np.zeros(0)"),
    **_eq(_REGIONS, ("_parse_spec__mutmut_3",), "a valid spec has one ':'; with more, both splits fail "
          "the same way (frame or numbers wrong) with the same message"),
    **_eq(_REGIONS, ("get_region__mutmut_18",), "kaist_rectangle's defaults are the values of KAIST_RULE"),
    **_eq(_KAIST, (140,), "the two candidates differ in `order`, so they are never equal"),
    **_eq(_KAIST, (36, 40), "one more empty lattice row or column adds only windows of fewer points"),
    **_eq(_KAIST, (43, 45, 66, 68, 92, 94), "point counts are whole numbers, exact in float64 below 2**53"),
    **_eq(_KAIST, (5, 9), "x and y are float64 in every Traces table (validate_traces); "
          "floor(x / step) of any numeric dtype is the same"),
    **_eq(_KAIST, (54,), "counting every point twice doubles every window: the same one wins"),
    **_eq(_KAIST, (71, 72, 76, 77), "more zero padding adds only empty windows beyond the data"),
    **_eq(_REGIONS, ("region_mask__mutmut_18", "region_mask__mutmut_21"), "x, y, lon, lat are float64 "
          "in every Traces table (validate_traces)"),
    **_eq(_REGIONS, ("region_mask__mutmut_47", "region_mask__mutmut_48"), "shapely.intersects_xy is False "
          "for a NaN coordinate, so the finite mask only saves work"),
    **_eq(_COVER, (4, 7, 10, 13), "the box corners (minx, miny) and (maxx, maxy) "
          "never hold the smallest or largest fractional q or r in either orientation"),
    **_eq(_COVER, (5, 6, 11, 12), "moving one corner in by 2R shifts the range of q "
          "or r by less than 2 cells, which the -1 / +2 margin of the aranges still covers"),
    **_eq(_COVER, (26, 29, 37, 40), "a wider q or r range only adds candidates, and "
          "`keep` filters every candidate by its exact centre"),
    **_eq(_WITHIN, (1,), "the chunk size only splits the work; every chunk gives the "
          "same rows"),
    **_eq(_WITHIN, (5, 7, 11, 13), "cell_of casts to float64 itself, and the distances "
          "subtract float64 centres, so numeric input of any dtype gives the same result"),
    **_eq(_WITHIN, (67, 75), "with one candidate per row, lexsort gives the zeros "
          "order too"),
    **_eq(_WITHIN, (76,), "the disk has 1 + 3k(k+1) cells: 1, 7, 19, ..., never 2"),
    **_eq(_WITHIN, (71, 72, 84, 92), "for these 2-D arrays axis -1, axis 1 and the "
          "default axis (-1) are the same"),
    **_eq(_HEX + "ring__mutmut_", (33, 35), "AXIAL_DIRECTIONS is int64, so start is int64 whatever q "
          "and r are"),
    **_eq(_BACKEND, ("make_backend__mutmut_8",), "every BACKENDS target has one ':', so partition and "
          "rpartition split it the same"),
    **_eq(_BACKEND, ("run_options__mutmut_6", "run_options__mutmut_8"), "RunConfig.backend is validated to "
          "'sim' or 'net', both keys of RUN_OPTIONS: the default of get() is never used"),
    **_eq(_BACKHAUL, (23, 24, 25, 26, 32, 33), "path_ids only caches a record's path: a miss gives the "
          "record its own copy of the same links, the same rows"),
    **_eq(_BACKHAUL, (41, 43, 47, 49, 53, 55), "float64 is numpy's default for Python floats"),
    **_eq(_BACKHAUL, (73, 75), "arrays of Python ints are int64 without the dtype"),
    **_eq(_BACKHAUL, (115, 117, 130, 132), "the backhaul graph's nodes are strings ('s3', 'core', "
          "'a2', ...): a str array indexes and matches like an object one"),
    **_eq(_BACKHAUL, (120, 121, 133, 134), "the zero column only pads the concat: groupby.sum skips the NaN "
          "it leaves, and the extra column is not selected"),
    **_eq(_BACKHAUL, (140, 142, 148), "the groups are sorted by (interval, server) right after; a (interval, "
          "node) pair is one row whatever the group order"),
    **_eq(_BACKHAUL, (172, 174, 176, 182, 183), "(interval, server) pairs are unique, so the sort kind "
          "never matters, and the reset index column is not selected"),
    **_eq("edgeroam.emulator.sim.backend.x_spread_chunks__mutmut_", (31,), "an int64 array cast with "
          "astype(None) is float64, as asked"),
    **_eq(_REPLAY, (102, 105, 146, 149, 168, 171), "np.full of the Python int -1 is int64 without dtype"),
    **_eq(_REPLAY, (172, 173, 185, 186), "prev_cell only feeds `key != prev_key`, masked by `cont`, which "
          "is False on the first row and wherever prev_cell takes the fill value"),
    **_eq(_REPLAY, (55,), "t only enters (t - t0) / interval_s, float64 for any numeric column"),
    **_eq(_RESAMPLE, (139, 141, 143), "with no grid point (total = 0) pseg is empty whichever way it is "
          "made; its dtype only joins an empty lexsort key"),
    **_eq(_RESAMPLE, (149, 151, 153, 155), "kind only orders samples (0) before grid points (1) in a "
          "lexsort, the same in any numeric dtype"),
    **_eq(_RESAMPLE, (206, 218, 219), "span = 0 only where i = j (a one-sample segment): the result adds "
          "w * (v[j] - v[i]) = 0 and takes mode from i = j whatever w is"),
    **_eq(_RESAMPLE, (237, 239), "new_user is only a condition: 1.0/0.0 are as true/false as True/False"),
    **_eq(_RESAMPLE, (261,), "make_traces casts traj to int32 whatever dtype it is given"),
    **_eq(_RESAMPLE, (36, 267), "t, x, y, lat, lon are float64 in every Traces table (validate_traces): "
          "to_numpy(dtype=float) changes nothing"),
    **_eq("edgeroam.datasets.resample.x_segment_ids__mutmut_", (16,), "t is float64 in every Traces table "
          "(validate_traces): to_numpy(dtype=float) changes nothing"),
}
#: mutmut mutant name -> why it cannot change behaviour (excluded from the rate)
EQUIVALENT: dict[str, str] = {
    **{f"{_FLUID}x_max_min_rates__mutmut_{i}": _ANY_GROUPING for i in (56, 58, 60)},
    **{f"{_FLUID}xǁFluidNetworkǁrates_bps__mutmut_{i}": _SAME_LENGTH for i in (7, 10, 11)},
    **{f"{_FLUID}xǁFluidNetworkǁlink_bytes__mutmut_{i}": _SAME_LENGTH for i in (4, 7, 8)},
    **{f"{_FLUID}xǁFluidNetworkǁlink_load_bps__mutmut_{i}": _SAME_LENGTH for i in (6, 9, 10)},
    **{_MARKOV + name: why for name, why in _MARKOV_WHY.items()},
    **_MORE_EQUIVALENT,
}

_STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
           36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 37: "killed"}


def _slug(module: str) -> str:
    return module.removeprefix("edgeroam/").removesuffix(".py").replace("/", "-")


def _pytest_args(slow: bool) -> list[str]:
    """Quiet, stop at the first failure; doctests are left out (mutmut's trampolines move the docstrings)."""
    marks = "not net" if slow else "not slow and not net"
    deselect = [arg for test in _DESELECT for arg in ("--deselect", test)]
    return ["-p", "no:cacheprovider", "-q", "-x", "-m", marks, "-k", "not docstring_example", *deselect]


#: appended to the scratch copy's tests/conftest.py: hypothesis without its 200 ms deadline (on a loaded
#: machine a clean test missed it, so mutmut refused to start) and with the same examples every run
_HYPOTHESIS_PROFILE = """

from hypothesis import settings as _mutation_settings

_mutation_settings.register_profile("mutation", deadline=None, derandomize=True)
_mutation_settings.load_profile("mutation")
"""


def _copy_tests(root: Path) -> None:
    """The working tree's tests into the scratch copy `root`, with the hypothesis profile of mutation runs."""
    shutil.rmtree(root / "tests", ignore_errors=True)
    shutil.copytree(REPO / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    with open(root / "tests" / "conftest.py", "a") as f:
        f.write(_HYPOTHESIS_PROFILE)


def _prepare(module: str, tests: list[str], slow: bool) -> Path:
    """A scratch copy of the project with a [tool.mutmut] section for `module` and `tests`."""
    root = WORK / _slug(module)
    shutil.rmtree(root, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "edgeroam", root / "edgeroam", ignore=ignore)
    _copy_tests(root)
    shutil.copytree(REPO / "scenarios", root / "scenarios", ignore=ignore)
    existing = sorted(str(p.relative_to(REPO)) for t in tests for p in REPO.glob(t))
    if not existing:
        raise SystemExit(f"{module}: none of its tests exist: {tests}")
    config = (REPO / "pyproject.toml").read_text()
    config += (
        "\n[tool.mutmut]\n"
        'source_paths = ["edgeroam"]\n'
        f"only_mutate = [{json.dumps(module)}]\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(existing)}\n"
        'also_copy = ["scenarios"]\n'
        f"pytest_add_cli_args = {json.dumps(_pytest_args(slow))}\n"
        # a mutant that hangs (an endless loop, a wait that never ends) is stopped after this many seconds of
        # wall time: (its tests' clean time + constant) * multiplier; mutmut's default (x15) let two
        # `Policy.set_params` mutants hold a worker for many minutes
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}\n"
        f"timeout_constant = {TIMEOUT_CONSTANT}\n"
    )
    (root / "pyproject.toml").write_text(config)
    return root


def _run(module: str, tests: list[str], jobs: int, slow: bool) -> bool:
    """Run mutmut on `module` in a fresh scratch copy; False (and a message) when mutmut failed."""
    root = _prepare(module, tests, slow)
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    env = {**os.environ, "EDGEROAM_SHARED": os.environ.get("EDGEROAM_SHARED", str(REPO.parent / "shared"))}
    t0 = time.perf_counter()
    with open(root / "mutmut.log", "wb") as log:
        rc = subprocess.run([mutmut, "run", "--max-children", str(jobs)], cwd=root, stdout=log,
                            stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0 or not (root / "mutants" / (module + ".meta")).exists():
        print(f"{module}: mutmut failed (exit {rc}); see {root / 'mutmut.log'}", flush=True)
        shutil.rmtree(root / "mutants", ignore_errors=True)  # no stale result is reported
        return False
    (root / "seconds").write_text(f"{time.perf_counter() - t0:.1f}")
    return True


def _rerun_survivors(module: str, jobs: int) -> bool:
    """Run the last run's surviving mutants of `module` again against the current tests (after adding tests).

    The scratch copy's project and tests are replaced by the working tree's; the module itself must be
    unchanged since that run (else run it in full). A mutant killed before stays killed: tests were added.
    """
    root = WORK / _slug(module)
    last = _collect(module, MODULES[module])
    if last is None:
        print(f"{module}: never run; run it in full first", flush=True)
        return False
    if (REPO / module).read_bytes() != (root / module).read_bytes():
        print(f"{module}: changed since its last run; run it in full", flush=True)
        return False
    if not last["survived"]:
        return True
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("edgeroam", "scenarios"):  # the rest of the project moves on (new modules, new tests)
        shutil.rmtree(root / folder)
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    _copy_tests(root)
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    env = {**os.environ, "EDGEROAM_SHARED": os.environ.get("EDGEROAM_SHARED", str(REPO.parent / "shared"))}
    with open(root / "mutmut-survivors.log", "wb") as log:
        rc = subprocess.run([mutmut, "run", "--max-children", str(jobs), *last["survived"]], cwd=root,
                            stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        print(f"{module}: mutmut failed (exit {rc}); see {root / 'mutmut-survivors.log'}", flush=True)
        return False
    (root / "survivors-rerun").write_text(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    return True


def _collect(module: str, tests: list[str]) -> dict | None:
    """The result of the last mutmut run on `module` (None if it never ran)."""
    root = WORK / _slug(module)
    meta = root / "mutants" / (module + ".meta")
    if not meta.exists():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    status = {name: _STATUS.get(code, "suspicious") for name, code in codes.items()}
    prefix = module.removesuffix(".py").replace("/", ".") + "."
    equivalent = sorted(n for n in status if n in EQUIVALENT)
    counted = {n: s for n, s in status.items() if n not in EQUIVALENT}
    killed = sum(s in ("killed", "timeout") for s in counted.values())
    seconds = root / "seconds"
    return {
        "module": module,
        "tests": tests,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(meta.stat().st_mtime)),
        "mutants": len(status),
        "equivalent": len(equivalent),
        "killed": killed,
        "not_checked": sorted(n for n, s in counted.items() if s == "not checked"),
        "survived": sorted(n for n, s in counted.items() if s not in ("killed", "timeout", "not checked")),
        "killed_equivalent": sorted(n for n in equivalent if status[n] == "killed"),
        "stale_equivalent": sorted(n for n in EQUIVALENT if n.startswith(prefix) and n not in status),
        "rate": killed / len(counted) if counted else 1.0,
        "seconds": float(seconds.read_text()) if seconds.exists() else None,
        "survivors_rerun": rerun.read_text() if (rerun := root / "survivors-rerun").exists() else None,
        "work": str(root),
    }


DOCS = REPO / "docs" / "reliability.md"
_BEGIN, _END = "<!-- mutation table: begin (tools/mutation.py --docs) -->", "<!-- mutation table: end -->"


def _tests_label(tests: list[str]) -> str:
    if tests == _EMULATOR_TESTS:
        return "`tests/emulator/test_{metrics,master,actions,backend}.py`"
    return ", ".join(f"`{t}`" for t in tests)


def markdown_table(results: list[dict]) -> str:
    """The results as the Markdown table of docs/reliability.md: one row per module, then all of them."""
    lines = ["| module | tests | killed / counted | rate | equivalent | last run |",
             "|---|---|---:|---:|---:|---|"]
    for r in results:
        when = r["when"] + (" (survivors rerun)" if r.get("survivors_rerun") else "")
        lines.append(f"| `{r['module'].removeprefix('edgeroam/')}` | {_tests_label(r['tests'])} | "
                     f"{r['killed']:,} / {r['mutants'] - r['equivalent']:,} | {100 * r['rate']:.1f} % | "
                     f"{r['equivalent']} | {when} |")
    killed = sum(r["killed"] for r in results)
    counted = sum(r["mutants"] - r["equivalent"] for r in results)
    equivalent = sum(r["equivalent"] for r in results)
    lines.append(f"| all | | {killed:,} / {counted:,} | **{100 * killed / max(counted, 1):.1f} %** | "
                 f"{equivalent} | |")
    return "\n".join(lines)


def write_docs(results: list[dict], path: Path = DOCS) -> None:
    """Replace the table between the markers in docs/reliability.md with `markdown_table(results)`."""
    text = path.read_text()
    if _BEGIN not in text or _END not in text:
        raise SystemExit(f"{path}: the markers {_BEGIN!r} and {_END!r} are missing")
    head, rest = text.split(_BEGIN, 1)
    _, tail = rest.split(_END, 1)
    path.write_text(f"{head}{_BEGIN}\n{markdown_table(results)}\n{_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="parallel mutant runs (default 2)")
    ap.add_argument("--only", default=None, help="only run modules whose path contains one of these "
                    "comma-separated strings (the others' last results are still reported, with their date)")
    ap.add_argument("--report", action="store_true", help="run nothing; report the last results")
    ap.add_argument("--survivors", action="store_true", help="run only the last run's surviving mutants "
                    "again, against the current tests (after adding tests; the module must be unchanged)")
    ap.add_argument("--slow", action="store_true", help="also run the tests marked slow (real traces)")
    ap.add_argument("--docs", action="store_true", help="write the results table into docs/reliability.md "
                    "(between its mutation-table markers)")
    ap.add_argument("--min-rate", type=float, default=95.0, help="fail below this kill rate in %% (overall)")
    ap.add_argument("--json", type=Path, default=WORK / "summary.json", help="where to write the results")
    args = ap.parse_args(argv)
    failed = []
    if not args.report:
        for module, tests in MODULES.items():
            chosen = args.only is None or any(part in module for part in args.only.split(","))
            run = (lambda m=module: _rerun_survivors(m, args.jobs)) if args.survivors else (
                lambda m=module, t=tests: _run(m, t, args.jobs, args.slow))
            if chosen and not run():
                failed.append(module)
    results = [r for m, t in MODULES.items() if (r := _collect(m, t)) is not None]
    print(f"{'module':40s} {'killed':>15s}  {'rate':>7s}  equiv.  last run")
    for r in results:
        print(f"{r['module']:40s} {r['killed']:5d} / {r['mutants'] - r['equivalent']:5d}  "
              f"{100 * r['rate']:5.1f} %  {r['equivalent']:6d}  {r['when']}")
    killed = sum(r["killed"] for r in results)
    counted = sum(r["mutants"] - r["equivalent"] for r in results)
    rate = 100.0 * killed / counted if counted else 100.0
    n_equivalent = sum(r["equivalent"] for r in results)
    print(f"{'all':40s} {killed:5d} / {counted:5d}  {rate:5.1f} %  {n_equivalent:6d}")
    missing = [m for m in MODULES if m not in {r["module"] for r in results}]
    for m in missing:
        print(f"  never run: {m}")
    for r in results:
        for name in r["survived"]:
            print(f"  survived: {name}")
        if r["not_checked"]:
            print(f"  not checked (run interrupted?): {len(r['not_checked'])} in {r['module']}")
        for name in r["stale_equivalent"]:
            print(f"  stale EQUIVALENT entry (no such mutant any more): {name}")
        for name in r["killed_equivalent"]:
            print(f"  listed as equivalent but killed (remove it): {name}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rate": rate, "killed": killed, "counted": counted, "modules": results},
                                    indent=2))
    if args.docs:
        write_docs(results)
        print(f"table written to {DOCS}")
    print(f"details: {args.json}; a mutant's diff: cd .cache/mutation/<module> && mutmut show NAME")
    return 0 if rate >= args.min_rate and not missing and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
