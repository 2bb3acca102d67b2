"""Training loop with Adam on a small path-integration problem; fresh trials every update."""

import numpy as np
import pytest

from cw.task.arenas import make_arena
from cw.network.model import LossParams, ModelParams, encode_inputs, init_weights
from cw.network.training import TrainingParams, checkpoint_updates, fresh_batches, train
from cw.seeds import rng_for, update_rng
from cw.task.trajectories import TrajectoryParams, generate_trials

ARENA = {"name": "square", "shape": "square", "side": 1.0}
TRAJ = {"n_steps": 60, "zero_speed_fraction": 0.5, "speed_max": 0.1}


@pytest.fixture(scope="module")
def pool():
    mp = ModelParams(n_units=24)
    return mp, fresh_batches(ARENA, TRAJ, mp, 50, 3)


def _fixed(inputs, targets, m):
    """A batch source cycling through a fixed array of trials (update k: block k mod n)."""
    n = inputs.shape[0] // m
    return lambda k: (inputs[(k % n) * m : (k % n + 1) * m], targets[(k % n) * m : (k % n + 1) * m])


def _train(pool, n_updates=60, seed=3):
    mp, _ = pool
    tp = TrainingParams(optimizer="adam", n_updates=n_updates, batch_size=50, n_checkpoints=4, adam={"learning_rate": 0.01})
    w0 = init_weights(mp, rng_for(seed, "init"))
    batches = fresh_batches(ARENA, TRAJ, mp, 50, seed)
    return train(w0, batches, mp, LossParams(lambda_l2=1e-3, lambda_fr=1e-3), tp, seed, progress=False)


def test_fresh_batches_depend_on_seed_and_update_only():
    mp = ModelParams(n_units=4)
    a, b = fresh_batches(ARENA, TRAJ, mp, 30, 7), fresh_batches(ARENA, TRAJ, mp, 30, 7)
    x5, y5 = a(5)
    a(1), a(2)  # drawing other updates first changes nothing
    for got, want in zip(b(5), (x5, y5)):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(a(6)[0], x5)
    assert not np.array_equal(fresh_batches(ARENA, TRAJ, mp, 30, 8)(5)[0], x5)
    assert x5.shape == (30, 60, 2) and y5.shape == (30, 60, 2) and x5.dtype == np.float32
    # the same trials as the generator's own, from update_rng(seed, k)
    tr = generate_trials(make_arena("square", {"shape": "square", "side": 1.0}), 30, TrajectoryParams(**TRAJ),
                         update_rng(7, 5))
    np.testing.assert_array_equal(y5, tr.position)
    np.testing.assert_array_equal(x5, encode_inputs(tr.speed, tr.heading, mp))


def test_adam_reduces_the_loss_and_records_history(pool):
    res = _train(pool)
    losses = np.array([r["loss"] for r in res.history])
    assert len(res.history) == 60
    assert [r["update"] for r in res.history] == list(range(1, 61))
    # W_out starts at 0, so the first loss is the targets' mean square; training on fresh trials
    # must cut it down (measured: 0.082 -> 0.052 over 60 updates)
    assert losses[-10:].mean() < 0.75 * losses[:3].mean()
    for key in ("error", "r_l2", "r_fr", "grad_norm", "seconds"):
        assert np.isfinite([r[key] for r in res.history]).all()
    assert res.checkpoint_updates == checkpoint_updates(60, 4, 100)
    assert len(res.checkpoints) == len(res.checkpoint_updates)
    assert not np.array_equal(res.checkpoints[0]["W_rec"], res.weights["W_rec"])
    np.testing.assert_array_equal(res.checkpoints[-1]["W_rec"], res.weights["W_rec"])


def test_same_seed_same_weights(pool):
    a = _train(pool, n_updates=5, seed=11)
    b = _train(pool, n_updates=5, seed=11)
    c = _train(pool, n_updates=5, seed=12)
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k], b.weights[k])
    assert not np.array_equal(a.weights["W_rec"], c.weights["W_rec"])


def test_checkpoint_schedule():
    assert checkpoint_updates(1000, 5) == [0, 1, 10, 100, 1000]
    assert checkpoint_updates(3, 8) == [0, 1, 2, 3]
    cu = checkpoint_updates(300, 8)
    assert cu[0] == 0 and cu[-1] == 300 and len(cu) == 8 and cu == sorted(set(cu))
    # log-spaced plus every 100 updates
    assert checkpoint_updates(1000, 5, 300) == [0, 1, 10, 100, 300, 600, 900, 1000]
    assert checkpoint_updates(1900, 12, 100)[-3:] == [1700, 1800, 1900]


def test_bad_training_params_name_the_key():
    with pytest.raises(ValueError, match="training.optimizer"):
        TrainingParams(optimizer="sgd")
    with pytest.raises(ValueError, match="training.n_updates"):
        TrainingParams(n_updates=0)
    with pytest.raises(ValueError, match="training.checkpoint_every"):
        TrainingParams(checkpoint_every=-1)
    with pytest.raises(ValueError, match="training.bogus: unknown key"):
        TrainingParams.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="batch of update 1 has 10 trials, expected 20"):
        _train_wrong_batch()


def _train_wrong_batch():
    mp = ModelParams(n_units=4)
    inputs = np.zeros((10, 5, 2), np.float32)
    tp = TrainingParams(n_updates=1, batch_size=20)
    train(init_weights(mp, np.random.default_rng(0)), _fixed(inputs, inputs, 10), mp, LossParams(), tp, 0, progress=False)


def test_divergence_names_the_run_and_update(tmp_path):
    from cw.network.training import TrainingDiverged

    mp = ModelParams(n_units=6)
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(20, 10, 2)).astype(np.float32)
    targets = np.zeros((20, 10, 2), np.float32)
    targets[:, :, 0] = 1e20  # squared error overflows float32 once the read-out moves
    tp = TrainingParams(optimizer="adam", n_updates=5, batch_size=10, state_every_minutes=0)
    state = tmp_path / "state.npz"
    with pytest.raises(TrainingDiverged, match=r"square7: non-finite loss or weights at update \d"):
        train(init_weights(mp, rng), _fixed(inputs, targets, 10), mp, LossParams(), tp, 0, label="square7",
              progress=False, state_path=state)


def test_penalty_weight_damping_bands_before_cg_and_lm_after(pool):
    """Hessian-free with damping penalty_weights (CODE): in every update the band rule acts on the
    weights the previous update left (on this update's loss terms), the step uses the banded
    weights, and the optimiser's LM factor of this update's rho gives the next weights."""
    from cw.network.optimizers.hessian_free import update_penalty_damping
    from cw.network.penalties import PenaltyAdaptParams, adapt_penalty_weights

    mp, _ = pool
    hf = {"damping": "penalty_weights", "cg_max_iters": 8, "curvature_fraction": 1.0}
    tp = TrainingParams(optimizer="hessian_free", n_updates=6, batch_size=50, n_checkpoints=3, hessian_free=hf)
    w0 = init_weights(mp, rng_for(3, "init"))
    loss = LossParams(lambda_l2=0.5, lambda_fr=0.1)
    res = train(w0, fresh_batches(ARENA, TRAJ, mp, 50, 3), mp, loss, tp, 3, progress=False)
    before = (0.5, 0.1)
    adapt = PenaltyAdaptParams()
    lm_moves = 0
    for row in res.history:
        banded = adapt_penalty_weights(row["error"], row["r_l2"], row["r_fr"], *before, adapt)
        assert (row["lambda_l2"], row["lambda_fr"]) == pytest.approx(banded, rel=1e-12)
        nxt = update_penalty_damping(row["lambda_l2"], row["lambda_fr"], row["rho"])
        assert (row["lambda_l2_next"], row["lambda_fr_next"]) == pytest.approx(nxt, rel=1e-12)
        lm_moves += row["lambda_l2_next"] != row["lambda_l2"]
        before = nxt
    assert lm_moves >= 1  # the LM rule moved the weights at least once
    assert res.history[-1]["loss_after"] < res.history[0]["loss"]


@pytest.mark.parametrize("rule, optimizer, damping, lm_weights, adapted", [
    ("code", "hessian_free", "penalty_weights", "l2_fr", True),
    ("code", "hessian_free", "tikhonov", "l2_fr", True),
    ("code_2020", "adam", "tikhonov", "l2", True),
    ("fixed", "hessian_free", "penalty_weights", "l2_fr", True),   # the LM rule moves lambda_FR
    ("fixed", "hessian_free", "penalty_weights", "l2", False),
    ("fixed", "hessian_free", "tikhonov", "l2_fr", False),
    ("fixed", "adam", "penalty_weights", "l2_fr", False),
])
def test_metabolic_weight_adapted_and_the_fig5_label(rule, optimizer, damping, lm_weights, adapted):
    from cw.network.penalties import metabolic_weight_adapted
    from cw.report.titles import fig5_names

    training = {"optimizer": optimizer, "adapt_penalties": {"rule": rule},
                "hessian_free": {"damping": damping, "lm_weights": lm_weights}}
    assert metabolic_weight_adapted(training) is adapted
    label = fig5_names("square_no_metabolic", "square", 0.1, adapted)[1]
    assert label == ("square: with metabolic cost (lambda_FR 0.1 at the start, adapted in training)" if adapted
                     else "square: with metabolic cost (lambda_FR = 0.1)")
