"""The one look of edgeroam's progress bars: what is running, a bar, done/total, elapsed time and an ETA.

Commands and `run_scenario` build their bars here so that every long step shows a count and a time left;
what the steps are is left to the callers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(console: Any = None, *, transient: bool = False, note: bool = False) -> Any:
    """A rich ``Progress`` on `console` (default: stderr) with a count and an ETA.

    `note` adds a column showing each task's ``note`` field (e.g. a validation loss). Log lines printed
    through its console carry no source path (``log_path=False``).

    Examples
    --------
    >>> bar = progress_bar()
    >>> [type(c).__name__ for c in bar.columns][-2:]
    ['TimeElapsedColumn', 'TimeRemainingColumn']
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if console is None:
        console = Console(stderr=True, log_path=False)
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if note:
        columns.append(TextColumn("{task.fields[note]}"))
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=console, transient=transient)
