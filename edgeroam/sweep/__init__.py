"""Many runs at once: sweep files (grid.py), their execution on Dask (dask_runner.py), and the reproduction of
every published number edgeroam covers (reproduce.py)."""

from edgeroam.sweep.dask_runner import SweepResult, run_sweep
from edgeroam.sweep.grid import RunSpec, Sweep, load_sweep, sweep_from_dict

__all__ = ["RunSpec", "Sweep", "SweepResult", "load_sweep", "run_sweep", "sweep_from_dict"]
