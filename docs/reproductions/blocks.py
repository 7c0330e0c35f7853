"""The generated blocks a page script keeps: the text `edgeroam reproduce --docs` recorded for a block.

A page script (eosdnn.py, s0.py, s3.py) rewrites its whole page; the tables that `edgeroam reproduce ...
--docs` generates live between markers in that page, so the script writes each block back from
``generated.json`` (edgeroam.sweep.docs) instead of losing it.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeroam.sweep.docs import RECORD, render_block


def block(name: str, command: str) -> str:
    """The block `name` with its recorded table, or a line saying which command fills it."""
    path = Path(__file__).with_name(RECORD)
    rec = json.loads(path.read_text(encoding="utf-8")).get(name) if path.exists() else None
    body = render_block(name, rec) if rec else f"*Not generated yet: run `{command}`.*\n"
    return f"<!-- reproduce:{name} begin -->\n{body}<!-- reproduce:{name} end -->"
