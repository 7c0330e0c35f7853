"""edgeroam._progress: every bar shows what runs, a count, the elapsed time and an ETA; notes on demand."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from edgeroam._progress import progress_bar


def _console() -> Console:
    return Console(file=io.StringIO(), width=120, force_terminal=False, color_system=None)


def test_columns_in_order():
    kinds = [type(c) for c in progress_bar(_console()).columns]
    assert kinds == [TextColumn, BarColumn, MofNCompleteColumn, TimeElapsedColumn, TimeRemainingColumn]


def test_note_adds_one_column_before_the_times():
    cols = progress_bar(_console(), note=True).columns
    assert len(cols) == 6 and isinstance(cols[3], TextColumn) and "note" in cols[3].text_format
    assert [type(c) for c in cols[-2:]] == [TimeElapsedColumn, TimeRemainingColumn]


def test_default_console_is_stderr_without_source_paths():
    bar = progress_bar()
    assert bar.console.stderr
    bar.console.file = io.StringIO()
    bar.console.log("step done")
    out = bar.console.file.getvalue()
    assert "step done" in out and "test_progress.py" not in out


def test_the_bar_renders_description_count_and_note():
    con = _console()
    with progress_bar(con, note=True) as bar:
        task = bar.add_task("training", total=10, note="loss 0.25")
        bar.update(task, advance=3)
        bar.refresh()
    text = con.file.getvalue()
    assert "training" in text and "3/10" in text and "loss 0.25" in text


def test_transient_is_passed_on():
    assert progress_bar(_console(), transient=True).live.transient
    assert not progress_bar(_console()).live.transient
