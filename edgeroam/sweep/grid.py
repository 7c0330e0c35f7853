"""A sweep file: one base scenario, a grid of scenario keys and seeds, expanded into independent runs.

```toml
name = "radius"                 # optional: the stem of the file
scenario = "perdnn-kaist"       # a scenario name or a TOML path (relative to this file's folder)
set = ["dnn.model=\\"inception\\""]   # fixed overrides, as `edgeroam run --set`
seeds = [1, 2, 3]               # each run once per seed (sets the scenario's `seed`); optional
[grid]                          # the product of these lists
"policy.radius_m" = [50, 100]
"policy.kind" = ["perdnn", "ionn"]
```

Each point of the product is a `RunSpec`: its overrides resolve to one scenario, whose hash names its run
directory (`edgeroam.emulator.rundir.run_dir_name`), so a finished run is found again on restart.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edgeroam.errors import ScenarioError

__all__ = ["RunSpec", "Sweep", "load_sweep", "sweep_from_dict", "toml_value"]

Scalar = bool | int | float | str


class Sweep(BaseModel):
    """A validated sweep file (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, description="names the sweep's output folder")
    scenario: str = Field(..., min_length=1, description="scenario name or TOML path")
    set: list[str] = Field(default_factory=list, description="fixed key.path=value overrides")
    seeds: list[int] = Field(default_factory=list, description="scenario seeds (empty: the scenario's own)")
    grid: dict[str, list[Scalar | list[Scalar]]] = Field(default_factory=dict)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("grid")
    @classmethod
    def _grid_lists(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid key {key!r} has no values")
            if not all(part.strip() for part in key.split(".")):
                raise ValueError(f"grid key {key!r} has an empty part")
        return grid

    def scenario_path(self) -> str | Path:
        """The scenario as given, with a relative path taken against the sweep file's folder."""
        p = Path(self.scenario)
        if p.suffix == ".toml" and not p.is_absolute():
            return self.base_dir / p
        return self.scenario

    def runs(self) -> list[RunSpec]:
        """Every point of the grid × seeds, in a stable order."""
        keys = list(self.grid)
        seeds: list[int | None] = list(self.seeds) or [None]
        out = []
        for values in itertools.product(*(self.grid[k] for k in keys)):
            for seed in seeds:
                params: dict[str, Any] = dict(zip(keys, values, strict=True))
                if seed is not None:
                    params["seed"] = seed
                overrides = [*self.set, *(f"{k}={toml_value(v)}" for k, v in params.items())]
                out.append(RunSpec(params=params, overrides=overrides))
        return out


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its grid values (`params`, by dotted key) and the overrides that make it."""

    params: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)


def toml_value(value: Any) -> str:
    """A Python scalar or list as the TOML text `--set` parses back to the same value.

    Examples
    --------
    >>> [toml_value(v) for v in (True, 3, 0.5, "perdnn", [1, 2])]
    ['true', '3', '0.5', '"perdnn"', '[1, 2]']
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def sweep_from_dict(data: dict[str, Any], *, path: str | Path | None = None) -> Sweep:
    """Validate a sweep dict; an error names `path` and the dotted key."""
    try:
        return Sweep.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ScenarioError(path, key, msg) from None


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep TOML file; the name defaults to the file's stem.

    Raises
    ------
    ScenarioError
        Missing file, bad TOML, an unknown key, an empty grid list; names the file and key.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(p, None, "no such sweep file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(p, None, f"not valid TOML: {exc}") from None
    data.setdefault("name", p.stem)
    sw = sweep_from_dict(data, path=p)
    return sw.model_copy(update={"base_dir": p.parent})
