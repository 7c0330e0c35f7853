"""`ReportStage`: a report's files written aside, then moved into the report folder together.

A report is drawn figure by figure; a failure halfway (a damaged run, a figure that cannot be drawn) used to
leave the new figures beside the old ``summary.md``. Now every file goes into a hidden staging folder inside
the report folder, ``.report-<pid>-<random>.partial/``; only when all are written are they ``os.replace``d
into place under the folder's lock, ``report.json`` last. ``report.json`` lists the size and SHA-256 of every
other file it belongs with (``files``), so the next report removes exactly the files of the previous one that
it does not write again (a ``fig10.png`` of runs that no longer have one) and never a file a user put there.
A failed report removes its staging folder and leaves the previous report as it was. Drawing and tables are
left to ``build``, ``figures`` and ``tables``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edgeroam.emulator.rundir import folder_lock, manifest_of, try_lock_folder
from edgeroam.errors import RunError

__all__ = ["INDEX", "ReportStage"]

INDEX = "report.json"
_STAGE_PREFIX = ".report-"
_STAGE_SUFFIX = ".partial"
_STAGE_RE = re.compile(rf"^{re.escape(_STAGE_PREFIX)}\d+-[^/]+{re.escape(_STAGE_SUFFIX)}$")


class ReportStage:
    """Stage a report's files in `dest` and move them into place at once; use as a context manager.

    Parameters
    ----------
    dest : path
        The report folder (created).

    Attributes
    ----------
    path : Path
        The staging folder; write every file of the report here.
    index : dict
        What ``report.json`` holds; :meth:`commit` adds ``files`` (size and SHA-256 of the others).

    Examples
    --------
    >>> import tempfile
    >>> dest = Path(tempfile.mkdtemp()) / "report"
    >>> with ReportStage(dest) as stage:
    ...     _ = (stage.path / "summary.md").write_text("# report")
    ...     stage.index = {"markdown": str(dest / "summary.md")}
    >>> sorted(p.name for p in dest.iterdir())
    ['report.json', 'summary.md']
    """

    def __init__(self, dest: str | os.PathLike[str]):
        self.dest = Path(dest)
        self.path = self.dest / f"{_STAGE_PREFIX}pending{_STAGE_SUFFIX}"
        self.index: dict[str, Any] = {}
        self._hold: int | None = None

    def __enter__(self) -> ReportStage:
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f"{_STAGE_PREFIX}{os.getpid()}-", suffix=_STAGE_SUFFIX,
                                              dir=self.dest))
        except OSError as exc:
            raise RunError(f"{self.dest}: cannot write the report here ({exc.strerror or exc})") from exc
        self._hold = try_lock_folder(self.path)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self._release()
            shutil.rmtree(self.path, ignore_errors=True)

    def _release(self) -> None:
        if self._hold is not None:
            os.close(self._hold)
            self._hold = None

    def _previous(self) -> set[str]:
        """Files of the report already in `dest` (from its ``report.json``); empty when there is none."""
        p = self.dest / INDEX
        try:
            old = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return set()  # not ours to judge: nothing is removed, its files are only replaced by name
        if not isinstance(old, dict):
            return set()
        files = old.get("files")
        if isinstance(files, dict):
            names = set(files)
        else:  # a report from before the manifest: what its index names
            named = [*(old.get("figures") or {}).values(), old.get("markdown")]
            names = {Path(v).name for v in named if isinstance(v, str)} | {"summary.csv"}
        return {n for n in names if isinstance(n, str) and "/" not in n and not n.startswith(".")}

    def commit(self) -> Path:
        """Write ``report.json`` and move every staged file into `dest` under its lock; returns `dest`."""
        manifest = manifest_of(self.path)
        body = json.dumps({**self.index, "files": manifest["files"]}, indent=2, sort_keys=True, default=str)
        (self.path / INDEX).write_text(body + "\n", encoding="utf-8")
        new = sorted(manifest["files"])
        with folder_lock(self.dest):
            stale = self._previous() - set(new) - {INDEX}
            for rel in [*new, INDEX]:
                target = self.dest / rel
                if target.is_dir() and not target.is_symlink():
                    raise RunError(f"{target}: is a folder; the report cannot write its {rel} there")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.path / rel, target)
            for rel in sorted(stale):
                (self.dest / rel).unlink(missing_ok=True)
            self._clear_stale_stages()
        return self.dest

    def _clear_stale_stages(self) -> None:
        """Remove staging folders of reports that died (their lock went with their process)."""
        for entry in sorted(self.dest.iterdir()):
            if entry == self.path or not _STAGE_RE.match(entry.name) or entry.is_symlink():
                continue
            fd = try_lock_folder(entry)
            if fd is not None:
                try:
                    shutil.rmtree(entry, ignore_errors=True)
                finally:
                    os.close(fd)
