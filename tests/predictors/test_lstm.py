"""LSTM: learns a walk, stops early, keeps torch's global state alone."""

from __future__ import annotations

import numpy as np
import torch

from edgeroam.predictors import LSTMPredictor


def _walks(n=5, seed=0):
    rng = np.random.default_rng(seed)
    wins, tgts = [], []
    for _ in range(20):
        v = rng.uniform(-30, 30, 2)
        pos = rng.uniform(0, 2000, 2) + np.arange(30)[:, None] * v + rng.normal(0, 1.0, (30, 2))
        for i in range(30 - n):
            wins.append(pos[i : i + n])
            tgts.append(pos[i + n])
    return np.array(wins), np.array(tgts)


def test_lstm_beats_stay_on_straight_walks():
    w, y = _walks()
    p = LSTMPredictor(hidden_size=16, max_epochs=40, patience=5, batch_size=32, random_state=0).fit(w, y)
    lstm = np.hypot(*(p.predict(w) - y).T).mean()
    stay = np.hypot(*(w[:, -1] - y).T).mean()
    assert lstm < 0.5 * stay, (lstm, stay)
    assert 1 <= p.n_epochs_ <= 40 and np.isfinite(p.best_val_loss_)


def test_callback_sees_every_epoch_and_early_stopping_caps_them():
    w, y = _walks()
    seen = []
    p = LSTMPredictor(hidden_size=4, max_epochs=5, patience=1, random_state=1).fit(
        w, y, callback=lambda e, total, loss: seen.append((e, total, loss))
    )
    assert [s[0] for s in seen] == list(range(1, p.n_epochs_ + 1))
    assert all(s[1] == 5 for s in seen)


def test_global_torch_state_is_untouched():
    w, y = _walks()
    threads = torch.get_num_threads()
    rng_state = torch.random.get_rng_state().clone()
    LSTMPredictor(hidden_size=4, max_epochs=2, num_threads=1, random_state=0).fit(w, y).predict(w)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_different_seeds_differ():
    w, y = _walks()
    a = LSTMPredictor(hidden_size=4, max_epochs=2, random_state=0).fit(w, y).predict(w)
    b = LSTMPredictor(hidden_size=4, max_epochs=2, random_state=1).fit(w, y).predict(w)
    assert not np.allclose(a, b)
