"""edgeroam.predictors.base: constraints, input checks, parameters and the pickle-free file format.

`test_common.py` runs the shared contract over every registered model; here the base class is checked on
its own, through a small model defined below.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any, ClassVar

import numpy as np
import pytest

from edgeroam.errors import EdgeroamError, NotFittedError
from edgeroam.predictors.base import (
    FORMAT_VERSION,
    Interval,
    Options,
    Predictor,
    check_targets,
    check_windows,
    clone,
    read_predictor_file,
)


class _Shift(Predictor):
    """Last position plus `scale` times the mean step of training (a learned array and a scalar)."""

    kind: ClassVar[str] = "test-shift"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "scale": [Interval(float, 0.0, None, closed="neither")],
        "mode": [Options(frozenset({"a", "b"})), None],
        "steps": [Interval(int, 1, 10)],
    }

    def __init__(self, scale: float = 1.0, mode: str | None = "a", steps: int = 1) -> None:
        self.scale = scale
        self.mode = mode
        self.steps = steps

    def fit(self, windows: Any, targets: Any) -> _Shift:
        w, y = self._check_fit_input(windows, targets)
        self.offset_ = (y - w[:, -1]).mean(axis=0)
        self.window_ = int(w.shape[1])
        return self

    def predict(self, windows: Any) -> np.ndarray:
        w = self._check_predict_windows(windows)
        return w[:, -1] + self.scale * self.offset_

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        _, learned = super()._state()
        return {"offset": self.offset_}, learned

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        self.offset_ = arrays["offset"]


W = np.array([[[0.0, 0.0], [1.0, 0.0]], [[5.0, 5.0], [5.0, 6.0]]])
Y = np.array([[2.0, 0.0], [5.0, 9.0]])


# ------------------------------------------------------------------------------------------- constraints


@pytest.mark.parametrize(
    ("closed", "at_low", "at_high"),
    [("both", True, True), ("left", True, False), ("right", False, True), ("neither", False, False)],
)
def test_interval_bounds_follow_closed(closed, at_low, at_high):
    iv = Interval(float, 0.0, 1.0, closed=closed)
    assert (iv.ok(0.0), iv.ok(1.0), iv.ok(0.5)) == (at_low, at_high, True)
    assert not iv.ok(-1e-9) and not iv.ok(1.0 + 1e-9)


def test_interval_kinds():
    assert not Interval(int, 0, None).ok(1.5)
    assert Interval(int, 0, None).ok(np.int64(3))
    assert Interval(float, 0, None).ok(3)  # an int is a real number
    assert not Interval(float, None, None).ok(True) and not Interval(int, None, None).ok(False)
    assert not Interval(float, None, None).ok("1.0")
    assert Interval(float, None, None).ok(-1e300)


def test_constraints_read_as_text():
    assert str(Interval(float, 0.0, None, closed="neither")) == "float in (0.0, inf)"
    assert str(Interval(int, None, 10, closed="right")) == "int in (-inf, 10]"
    assert str(Options(frozenset({"b", "a"}))) == "one of 'a', 'b'"


def test_options_take_only_listed_plain_values():
    opt = Options(frozenset({"a", 1}))
    assert opt.ok("a") and opt.ok(1) and not opt.ok("c")
    assert not opt.ok(["a"])  # unhashable: rejected, not a TypeError


def test_bad_parameter_names_parameter_allowed_and_value():
    want = r"_Shift: parameter 'scale' must be float in \(0.0, inf\); got 0.0"
    with pytest.raises(EdgeroamError, match=want):
        _Shift(scale=0.0).fit(W, Y)
    with pytest.raises(EdgeroamError, match=r"'mode' must be one of 'a', 'b' or None; got 'c'"):
        _Shift(mode="c").fit(W, Y)
    with pytest.raises(EdgeroamError, match="'steps'.*got True"):
        _Shift(steps=True).fit(W, Y)
    assert _Shift(mode=None, steps=10).fit(W, Y).window_ == 2


def test_a_type_constraint_rejects_bool_for_int():
    class _Typed(_Shift):
        _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"steps": [int]}

    with pytest.raises(EdgeroamError, match="an instance of int; got True"):
        _Typed(steps=True).fit(W, Y)
    assert _Typed(steps=3).fit(W, Y) is not None


# ------------------------------------------------------------------------------------------- input checks


def test_check_windows_takes_one_window_and_keeps_float64_without_copy():
    one = check_windows([[0, 0], [1, 1], [2, 2]])
    assert one.shape == (1, 3, 2) and one.dtype == np.float64
    w = np.zeros((4, 3, 2))
    assert check_windows(w) is w


@pytest.mark.parametrize("shape", [(4,), (4, 3), (4, 3, 3), (4, 0, 2), (2, 4, 3, 2)])
def test_check_windows_names_the_shape_it_got(shape):
    with pytest.raises(EdgeroamError, match=r"must have shape \[N, n, 2\].*" + str(shape).replace("(", r"\(")
                       .replace(")", r"\)")):
        check_windows(np.zeros(shape), name="windows")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_windows_and_targets_reject_non_finite(bad):
    w = np.zeros((2, 3, 2))
    w[1, 2, 0] = bad
    with pytest.raises(EdgeroamError, match="history contains NaN or infinite"):
        check_windows(w, name="history")
    y = np.zeros((2, 2))
    y[0, 1] = bad
    with pytest.raises(EdgeroamError, match="targets contains NaN"):
        check_targets(y, 2)


def test_check_targets_must_match_the_windows():
    assert check_targets([[1, 2], [3, 4]], 2).dtype == np.float64
    with pytest.raises(EdgeroamError, match=r"\[3, 2\] to match the windows, got \(2, 2\)"):
        check_targets(np.zeros((2, 2)), 3)
    with pytest.raises(EdgeroamError, match="got \\(6,\\)"):
        check_targets(np.zeros(6), 3)


# ------------------------------------------------------------------------------------------- parameters


def test_params_repr_and_clone():
    p = _Shift(scale=2.5, mode="b")
    assert p.get_params() == {"mode": "b", "scale": 2.5, "steps": 1}
    assert repr(p) == "_Shift(mode='b', scale=2.5, steps=1)"
    assert p.set_params(steps=4) is p and p.steps == 4
    fitted = p.fit(W, Y)
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "offset_")
    want = r"_Shift has no parameter 'offset'; valid: \['mode', 'scale', 'steps'\]"
    with pytest.raises(EdgeroamError, match=want):
        p.set_params(offset=1.0)


def test_unfitted_use_raises_not_fitted(tmp_path):
    with pytest.raises(NotFittedError, match="_Shift is not fitted yet"):
        _Shift().predict(W)
    with pytest.raises(NotFittedError):
        _Shift().save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_predict_checks_the_window_length():
    p = _Shift().fit(W, Y)
    np.testing.assert_allclose(p.predict(W), [[1.5, 1.5], [5.5, 7.5]])
    with pytest.raises(EdgeroamError, match="fitted on windows of 2 positions, got 3"):
        p.predict(np.zeros((1, 3, 2)))


# ------------------------------------------------------------------------------------------- file format


def test_save_writes_an_npz_without_pickle_and_reads_back(tmp_path):
    p = _Shift(scale=0.5, mode=None).fit(W, Y)
    path = p.save(tmp_path / "deep" / "dir" / "shift.npz")
    assert path == tmp_path / "deep" / "dir" / "shift.npz"
    assert [f.name for f in path.parent.iterdir()] == ["shift.npz"]  # no temporary left behind
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["__meta__", "a_offset"]
        meta = json.loads(data["__meta__"].tobytes())
    assert meta == {"format": "edgeroam-predictor", "version": FORMAT_VERSION, "kind": "test-shift",
                    "params": {"mode": None, "scale": 0.5, "steps": 1}, "learned": {"window_": 2}}
    meta2, arrays = read_predictor_file(path)
    assert meta2 == meta and list(arrays) == ["offset"]
    q = _Shift.load(path)
    assert type(q) is _Shift and q.get_params() == p.get_params()
    np.testing.assert_array_equal(q.predict(W), p.predict(W))
    assert type(Predictor.load(path)) is _Shift  # the base class finds the kind among its subclasses


def _npz_with_meta(path, meta: Any) -> None:
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    np.savez(path, __meta__=np.frombuffer(raw, dtype=np.uint8))


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"format": "edgeroam-predictor", "version": FORMAT_VERSION + 1, "kind": "stay"},
         f"format version {FORMAT_VERSION + 1}, expected {FORMAT_VERSION}"),
        ({"format": "other", "version": FORMAT_VERSION}, "not an edgeroam predictor file"),
        ([1, 2], "not an edgeroam predictor file"),
        (b"\xff\xfe{", "unreadable predictor metadata"),
        (b"{not json", "unreadable predictor metadata"),
    ],
)
def test_bad_metadata_names_the_file(tmp_path, meta, match):
    path = tmp_path / "m.npz"
    _npz_with_meta(path, meta)
    with pytest.raises(EdgeroamError, match=match) as ei:
        read_predictor_file(path)
    assert str(ei.value).startswith(str(path))


def test_a_damaged_zip_is_an_error_naming_the_file(tmp_path):
    path = _Shift().fit(W, Y).save(tmp_path / "m.npz")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # cut short, still starts with PK
    with pytest.raises(EdgeroamError, match="unreadable predictor file") as ei:
        read_predictor_file(path)
    assert str(path) in str(ei.value)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("__meta__.npy", b"not an npy")
    with pytest.raises(EdgeroamError, match=f"{bad}: not an edgeroam predictor file"):
        read_predictor_file(bad)  # numpy hands a member without the .npy header back as bytes


def test_a_safetensors_file_needs_edgeroam_metadata(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "m.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(path))
    with pytest.raises(EdgeroamError, match="safetensors file without edgeroam metadata"):
        read_predictor_file(path)
    meta = {"format": "edgeroam-predictor", "version": FORMAT_VERSION, "kind": "x", "params": {},
            "learned": {}}
    save_file({"w": np.ones(3, dtype=np.float32)}, str(path), metadata={"edgeroam": json.dumps(meta)})
    got, arrays = read_predictor_file(path)
    assert got == meta and arrays["w"].tolist() == [1.0, 1.0, 1.0]


def test_load_refuses_another_kind(tmp_path):
    from edgeroam.predictors.baselines import StayPredictor

    path = StayPredictor().fit(W, Y).save(tmp_path / "stay.npz")
    with pytest.raises(EdgeroamError, match=f"{path}: holds a 'stay' predictor, not a _Shift"):
        _Shift.load(path)
