"""Source digests change with any file's content or name, and package versions name what is installed."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam import _digest


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.py").write_text("X = 1\n")
    (tmp_path / "a" / "sub").mkdir()
    (tmp_path / "a" / "sub" / "y.py").write_text("Y = 2\n")
    (tmp_path / "a" / "notes.txt").write_text("not code")
    (tmp_path / "b.py").write_text("B = 3\n")
    (tmp_path / "c.py").write_text("C = 4\n")
    monkeypatch.setattr(_digest, "_ROOT", tmp_path)
    _digest.source_digest.cache_clear()
    yield tmp_path
    _digest.source_digest.cache_clear()


def _fresh(*parts):
    _digest.source_digest.cache_clear()
    return _digest.source_digest(*parts)


def test_a_digest_covers_every_py_file_under_its_parts_by_name_and_content(tree):
    whole, a, b = _fresh(), _fresh("a"), _fresh("b.py")
    assert len({whole, a, b, _fresh("a", "b.py")}) == 4 and len(whole) == 64
    (tree / "a" / "notes.txt").write_text("changed")  # not a .py file
    assert _fresh("a") == a
    (tree / "a" / "sub" / "y.py").write_text("Y = 3\n")  # a nested file's content
    assert _fresh("a") != a and _fresh() != whole and _fresh("b.py") == b
    (tree / "a" / "sub" / "y.py").write_text("Y = 2\n")
    assert _fresh("a") == a
    (tree / "a" / "sub" / "y.py").rename(tree / "a" / "sub" / "z.py")  # a name, the same content
    assert _fresh("a") != a


def test_package_versions_are_the_installed_ones():
    v = _digest.package_versions("numpy", "no-such-package-edgeroam")
    assert v == {"numpy": np.__version__, "no-such-package-edgeroam": None}
    v["numpy"] = "changed"  # a copy: the cached answer is not changed
    assert _digest.package_versions("numpy", "no-such-package-edgeroam")["numpy"] == np.__version__
