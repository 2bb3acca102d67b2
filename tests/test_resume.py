"""A training killed with SIGKILL at any point, or stopped with SIGINT / SIGTERM, resumes from its
saved state and ends with the same weights as an uninterrupted run (both optimisers); the fresh
trials of every update are the same after a resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cw.network.model import LossParams, ModelParams, init_weights
from cw.network.state import TrainingState
from cw.network.training import TrainingParams, fresh_batches, train
from cw.seeds import rng_for

N_UPDATES = 8
ARENA = {"name": "square", "shape": "square", "side": 1.0}
TRAJ = {"n_steps": 25, "zero_speed_fraction": 0.5, "speed_max": 0.1}

DRIVER = """
import sys, time, numpy as np
from pathlib import Path
from cw.network.model import LossParams, ModelParams, init_weights
from cw.network.training import TrainingParams, fresh_batches, train
from cw.seeds import rng_for
mp = ModelParams(n_units=10)
tp = TrainingParams(optimizer=sys.argv[2], n_updates={n}, batch_size=20, n_checkpoints=4,
                    state_every_minutes=float(sys.argv[5]), hessian_free={{"cg_max_iters": 8}})

def on_update(row):
    Path(sys.argv[1]).write_text(str(row["update"]))  # progress, for the test to time its signal
    time.sleep(0.3)

try:
    res = train(init_weights(mp, rng_for(5, "init")), fresh_batches({arena}, {traj}, mp, 20, 5), mp, LossParams(),
                tp, 5, progress=False, state_path=sys.argv[3], on_update=on_update)
except KeyboardInterrupt as exc:
    print(exc, file=sys.stderr)
    raise SystemExit(130)
np.savez(sys.argv[4], **res.weights)
""".format(n=N_UPDATES, arena=ARENA, traj=TRAJ)


def _reference(optimizer):
    mp = ModelParams(n_units=10)
    tp = TrainingParams(optimizer=optimizer, n_updates=N_UPDATES, batch_size=20, n_checkpoints=4,
                        hessian_free={"cg_max_iters": 8})
    return train(init_weights(mp, rng_for(5, "init")), fresh_batches(ARENA, TRAJ, mp, 20, 5), mp, LossParams(), tp, 5,
                 progress=False).weights


def _saved_update(state: Path) -> int:
    try:
        s = TrainingState.load(state)
    except RuntimeError:
        return -1
    return -1 if s is None else s.update


@pytest.mark.parametrize("optimizer", ["adam", "hessian_free"])
def test_sigkill_and_resume_gives_identical_weights(tmp_path, optimizer):
    reference = _reference(optimizer)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    state, out = tmp_path / "state.npz", tmp_path / "out.npz"
    cmd = [sys.executable, str(driver), str(tmp_path / "progress"), optimizer, str(state), str(out), "0"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    killed_at = []
    # each update sleeps 0.3 s in the driver (outside the training code), so that the kill lands
    # in the middle of training however fast the updates themselves are
    for kill_after in (2, 5):  # kill once early, once later
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300  # generous: CI machines can be heavily loaded
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


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_sigterm_save_the_state_and_the_rerun_continues(tmp_path, sig):
    """The signal ends the update in progress, saves the full state (although the periodic save
    is an hour away), says so in one line, and the rerun ends with the uninterrupted weights."""
    reference = _reference("hessian_free")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    progress, state, out = tmp_path / "progress", tmp_path / "state.npz", tmp_path / "out.npz"
    cmd = [sys.executable, str(driver), str(progress), "hessian_free", str(state), str(out), "60"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300  # generous: CI machines can be heavily loaded
    while proc.poll() is None and time.time() < deadline:
        if progress.exists() and progress.read_text() and int(progress.read_text()) >= 2:
            break
        time.sleep(0.02)
    if proc.poll() is not None or not progress.exists():  # say why, rather than fail further down
        _, err = proc.communicate(timeout=120)
        pytest.fail(f"the training never reached update 2 (exit {proc.returncode}): {err[-2000:]}")
    assert not state.exists()  # the periodic save (60 min) has not happened
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and not out.exists(), f"exit {proc.returncode}: {err[-2000:]}"
    saved = _saved_update(state)
    assert 2 <= saved < N_UPDATES
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1] == (
        f"train: interrupted after update {saved} of {N_UPDATES}; state saved in {state}; "
        "rerun the same command to resume"
    )
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    resumed = dict(np.load(out))
    for k in reference:
        np.testing.assert_array_equal(resumed[k], reference[k])


def test_state_of_other_settings_is_not_resumed(tmp_path):
    mp = ModelParams(n_units=10)
    state = tmp_path / "state.npz"
    common = dict(optimizer="adam", batch_size=20, n_checkpoints=3, state_every_minutes=0)
    w0 = init_weights(mp, rng_for(5, "init"))
    data = fresh_batches(ARENA, TRAJ, mp, 20, 5)
    train(w0, data, mp, LossParams(), TrainingParams(n_updates=3, **common), 5,
          progress=False, state_path=state)
    other = train(w0, data, mp, LossParams(lambda_l2=0.5), TrainingParams(n_updates=3, **common),
                  5, progress=False, state_path=state)
    fresh = train(w0, data, mp, LossParams(lambda_l2=0.5), TrainingParams(n_updates=3, **common),
                  5, progress=False)
    np.testing.assert_array_equal(other.weights["W_rec"], fresh.weights["W_rec"])


def test_damaged_state_file_is_a_clear_error(tmp_path):
    state = tmp_path / "state.npz"
    state.write_bytes(b"not a zip file")
    with pytest.raises(RuntimeError, match="state.npz"):
        TrainingState.load(state)


def test_a_finished_training_is_continued_to_more_updates(tmp_path):
    """A finished state whose run differs only in training.n_updates is continued, not restarted:
    3 updates, then continued to 6, give the weights and history of 6 updates in one go."""
    mp = ModelParams(n_units=10)
    state = tmp_path / "state.npz"
    common = dict(optimizer="hessian_free", batch_size=20, n_checkpoints=3, state_every_minutes=0,
                  hessian_free={"cg_max_iters": 8})
    w0 = init_weights(mp, rng_for(5, "init"))
    data = fresh_batches(ARENA, TRAJ, mp, 20, 5)
    train(w0, data, mp, LossParams(), TrainingParams(n_updates=3, **common), 5, progress=False, state_path=state)
    assert _saved_update(state) == 3
    longer = train(w0, data, mp, LossParams(), TrainingParams(n_updates=6, **common), 5,
                   progress=False, state_path=state)
    straight = train(w0, data, mp, LossParams(), TrainingParams(n_updates=6, **common), 5, progress=False)
    for k in straight.weights:
        np.testing.assert_array_equal(longer.weights[k], straight.weights[k])
    assert [r["update"] for r in longer.history] == list(range(1, 7))
    assert 3 in longer.checkpoint_updates and longer.checkpoint_updates[-1] == 6
    with pytest.raises(ValueError, match="beyond training.n_updates = 4"):
        train(w0, data, mp, LossParams(), TrainingParams(n_updates=4, **common), 5, progress=False, state_path=state)
