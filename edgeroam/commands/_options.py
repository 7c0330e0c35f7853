"""Options shared by the commands that take a scenario: its help texts and the ``--root`` override.

Resolving a scenario name is ``edgeroam.scenario.resolve_scenario``; this module only words the options the
same way everywhere and turns ``--root`` into a ``dataset.root`` override.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["ROOT_HELP", "SCENARIO_HELP", "SET_HELP", "root_override"]

SCENARIO_HELP = (
    "Scenario name (demo, perdnn-kaist, perdnn-geolife: scenarios/<name>.toml) or a scenario TOML file."
)
ROOT_HELP = (
    "Folder (or Geolife zip) with the traces; overrides the scenario's dataset.root "
    "(default: $EDGEROAM_DATA, else ../shared/traces)."
)
SET_HELP = "Override a scenario value, e.g. --set dataset.interval_s=30 (repeatable; value is a TOML scalar)."


def root_override(root: Path | None) -> list[str]:
    """``--root PATH`` as a ``--set`` item (``dataset.root="<absolute path>"``); nothing when unset.

    Examples
    --------
    >>> root_override(Path("/data/traces"))
    ['dataset.root="/data/traces"']
    >>> root_override(None)
    []
    """
    if root is None:
        return []
    # a JSON string is a valid TOML basic string (same escapes)
    return [f"dataset.root={json.dumps(str(root.expanduser().resolve()))}"]
