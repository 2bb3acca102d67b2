"""A training killed with SIGKILL at any point resumes from its saved state and ends with the
same weights as an uninterrupted run (both optimisers)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cw.model import LossParams, ModelParams, init_weights
from cw.training import TrainingParams, load_state, rng_for, train

N_UPDATES = 8

DRIVER = """
import sys, time, numpy as np
from cw.model import LossParams, ModelParams, init_weights
from cw.training import TrainingParams, rng_for, train
d = np.load(sys.argv[1])
mp = ModelParams(n_units=10)
tp = TrainingParams(optimizer=sys.argv[2], n_updates={n}, batch_size=20, n_checkpoints=4, state_every_minutes=0,
                    hessian_free={{"cg_max_iters": 8}})
res = train(init_weights(mp, rng_for(5, "init")), d["inputs"], d["targets"], mp, LossParams(), tp, 5,
            progress=False, state_path=sys.argv[3], on_update=lambda row: time.sleep(0.3))
np.savez(sys.argv[4], **res.weights)
""".format(n=N_UPDATES)


def _data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, inputs=(rng.normal(size=(40, 25, 2)) * 0.3).astype(np.float32),
             targets=(rng.normal(size=(40, 25, 2)) * 0.1).astype(np.float32))
    return path


def _saved_update(state: Path) -> int:
    try:
        s = load_state(state)
    except RuntimeError:
        return -1
    return -1 if s is None else int(s["update"])


@pytest.mark.parametrize("optimizer", ["adam", "hessian_free"])
def test_sigkill_and_resume_gives_identical_weights(tmp_path, optimizer):
    data = _data(tmp_path)
    d = np.load(data)
    mp = ModelParams(n_units=10)
    tp = TrainingParams(optimizer=optimizer, n_updates=N_UPDATES, batch_size=20, n_checkpoints=4,
                        hessian_free={"cg_max_iters": 8})
    reference = train(init_weights(mp, rng_for(5, "init")), d["inputs"], d["targets"], mp, LossParams(), tp, 5,
                      progress=False).weights

    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    state, out = tmp_path / "state.npz", tmp_path / "out.npz"
    cmd = [sys.executable, str(driver), str(data), optimizer, str(state), str(out)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    killed_at = []
    # each update sleeps 0.3 s in the driver (outside the training code), so that the kill lands
    # in the middle of training however fast the updates themselves are
    for kill_after in (2, 5):  # kill once early, once later
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while _saved_update(state) < kill_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at.append(_saved_update(state))
        assert not out.exists(), "the killed run must not have finished"
    assert killed_at[0] >= 2 and killed_at[1] > killed_at[0] and killed_at[1] < N_UPDATES
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    resumed = dict(np.load(out))
    for k in reference:
        np.testing.assert_array_equal(resumed[k], reference[k])


def test_state_of_other_settings_is_not_resumed(tmp_path):
    data = np.load(_data(tmp_path))
    mp = ModelParams(n_units=10)
    state = tmp_path / "state.npz"
    common = dict(optimizer="adam", batch_size=20, n_checkpoints=3, state_every_minutes=0)
    w0 = init_weights(mp, rng_for(5, "init"))
    train(w0, data["inputs"], data["targets"], mp, LossParams(), TrainingParams(n_updates=3, **common), 5,
          progress=False, state_path=state)
    other = train(w0, data["inputs"], data["targets"], mp, LossParams(lambda_l2=0.5), TrainingParams(n_updates=3, **common),
                  5, progress=False, state_path=state)
    fresh = train(w0, data["inputs"], data["targets"], mp, LossParams(lambda_l2=0.5), TrainingParams(n_updates=3, **common),
                  5, progress=False)
    np.testing.assert_array_equal(other.weights["W_rec"], fresh.weights["W_rec"])


def test_damaged_state_file_is_a_clear_error(tmp_path):
    state = tmp_path / "state.npz"
    state.write_bytes(b"not a zip file")
    with pytest.raises(RuntimeError, match="state.npz"):
        load_state(state)
