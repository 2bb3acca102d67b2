"""Hessian-free optimiser: CG and its stopping rule, backtracking, damping, line search, a small
path-integration run, checkpoint round trip; and Cueva's adaptive penalty rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from cw.network.model import WEIGHT_NAMES, ModelParams, encode_inputs, init_weights
from cw.network.objective import Objective
from cw.network.optimizers import OPTIMIZERS, Batch, make_optimizer
from cw.network.optimizers.hessian_free import (
    CG_STOP_CODES,
    HessianFree,
    HessianFreeParams,
    backtrack,
    conjugate_gradient,
    line_search,
    save_schedule,
    update_damping,
    update_penalty_damping,
)
from cw.network.penalties import PenaltyAdaptParams, adapt_penalty_weights


# -- settings ---------------------------------------------------------------------------------
def test_params_defaults_and_validation():
    p = HessianFreeParams()
    assert (p.cg_max_iters, p.cg_epsilon, p.cg_warm_start_decay, p.backtrack_save_ratio) == (50, 5e-4, 0.95, 1.3)
    assert (p.damping_boost, p.damping_drop, p.rho_low, p.rho_high) == (1.5, 2 / 3, 0.25, 0.75)
    assert (p.line_search_shrink, p.line_search_c, p.clip_grad_norm, p.curvature_fraction) == (0.8, 1e-2, 10.0, 0.25)
    for key, bad in [
        ("initial_damping", 0.0),
        ("damping_drop", 1.0),
        ("damping_boost", 0.9),
        ("cg_max_iters", 0),
        ("cg_max_iters", 2.5),
        ("curvature_fraction", 1.5),
        ("line_search_shrink", 1.0),
        ("structural_damping", -1.0),
        ("cg_warm_start_decay", 1.2),
    ]:
        with pytest.raises(ValueError, match=f"training.hessian_free.{key}"):
            HessianFreeParams(**{key: bad})
    with pytest.raises(ValueError, match="training.hessian_free.cg_iters: unknown key"):
        HessianFreeParams.from_dict({"cg_iters": 3})
    assert HessianFreeParams.from_dict(p.to_dict()) == p


def test_registered():
    assert "hessian_free" in OPTIMIZERS
    opt = make_optimizer("hessian_free", {"cg_max_iters": 7}, Objective(ModelParams(n_units=3)))
    assert isinstance(opt, HessianFree) and opt.params.cg_max_iters == 7


# -- conjugate gradient -----------------------------------------------------------------------
def _spd(p, cond, seed, power=None):
    """SPD matrix with log-spaced eigenvalues; b random, or with eigen-components ~ eig**power."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(p, p)))
    eig = np.logspace(0, -np.log10(cond), p)
    b = rng.normal(size=p) if power is None else q @ (eig**power * rng.normal(size=p))
    return (q * eig) @ q.T, b


def _phi(a, b, x):
    return 0.5 * x @ a @ x - b @ x


def test_save_schedule():
    assert save_schedule(50, 1.3) == [1, 2, 3, 4, 6, 8, 11, 15, 20, 26, 34, 45]


def test_cg_solves_spd_system():
    a, b = _spd(50, 1e3, 0)
    res = conjugate_gradient(lambda v: a @ v, b, max_iters=200, epsilon=1e-30, residual_tol=1e-10)
    assert res.stop == "residual" and res.iterations <= 150
    np.testing.assert_allclose(res.x, np.linalg.solve(a, b), rtol=1e-7, atol=1e-9)
    phi = np.array(res.phi)
    assert np.all(np.diff(phi) < 1e-12) and phi[0] == 0
    for i, x in res.saved:  # phi bookkeeping agrees with the definition
        np.testing.assert_allclose(res.phi[i], _phi(a, b, x), rtol=1e-9)
    assert [i for i, _ in res.saved][:-1] == [i for i in save_schedule(200) if i < res.iterations]
    assert res.saved[-1][0] == res.iterations and res.products == res.iterations


def _martens_first_stop(phi, eps, min_iters=1, gap_ratio=0.1, min_gap=10):
    """Independent statement of Martens' rule on a phi history (phi[0] at the start)."""
    for i in range(1, len(phi)):
        k = max(min_gap, math.ceil(gap_ratio * i - 1e-9))
        if i >= min_iters and i > k and phi[i - k] < 0 and (phi[i] - phi[i - k]) / phi[i] < k * eps:
            return i
    return None


@pytest.mark.parametrize("min_iters", [1, 70])
def test_cg_martens_stopping_rule(min_iters):
    a, b = _spd(400, 1e6, 1, power=0.75)  # relative progress slows down well before convergence
    full = conjugate_gradient(lambda v: a @ v, b, max_iters=300, epsilon=0.0, residual_tol=0.0)
    assert full.stop == "max_iters" and full.iterations == 300
    expected = _martens_first_stop(full.phi, 5e-4, min_iters)
    assert expected is not None and 10 < expected < 300 and expected >= min_iters
    res = conjugate_gradient(lambda v: a @ v, b, max_iters=300, min_iters=min_iters, epsilon=5e-4, residual_tol=0.0)
    assert res.stop == "martens" and res.iterations == expected
    np.testing.assert_allclose(res.phi, full.phi[: expected + 1], rtol=1e-12)
    # The relative progress test itself at the stopping iteration and one before.
    k = max(10, math.ceil(0.1 * expected))
    assert (res.phi[expected] - res.phi[expected - k]) / res.phi[expected] < k * 5e-4


def test_cg_max_iters_and_nonpositive_curvature():
    a, b = _spd(100, 1e6, 2)
    res = conjugate_gradient(lambda v: a @ v, b, max_iters=5)
    assert res.stop == "max_iters" and res.iterations == 5 and res.saved[-1][0] == 5
    indefinite = -np.eye(4)
    res = conjugate_gradient(lambda v: indefinite @ v, np.ones(4))
    assert res.stop == "curvature" and res.iterations == 0 and not res.x.any()


def test_cg_warm_start():
    a, b = _spd(50, 1e3, 3)
    x_star = np.linalg.solve(a, b)
    res = conjugate_gradient(lambda v: a @ v, b, x0=x_star, residual_tol=1e-8)
    assert res.iterations == 0 and res.products == 1 and res.stop == "residual"
    np.testing.assert_array_equal(res.x, x_star)
    # A start worse than 0 (phi(-x*) > 0) is discarded.
    res = conjugate_gradient(lambda v: a @ v, b, x0=-x_star, max_iters=200, residual_tol=1e-10, epsilon=1e-30)
    assert res.restarted and res.phi[0] == 0.0
    np.testing.assert_allclose(res.x, x_star, rtol=1e-6, atol=1e-8)
    # A good warm start needs fewer iterations than a cold one.
    cold = conjugate_gradient(lambda v: a @ v, b, max_iters=200)
    warm = conjugate_gradient(lambda v: a @ v, b, x0=0.95 * x_star, max_iters=200)
    assert not warm.restarted and warm.phi[0] < 0 and warm.iterations < cold.iterations


# -- backtracking, damping, line search ---------------------------------------------------------
@pytest.mark.parametrize(
    "values, chosen, evals",
    [
        ([5, 3, 2, 4, 6], 2, 4),  # walk back while improving, stop at the first worse one
        ([5, 4, 3], 2, 2),  # the last iterate is best
        ([1, 2, 3], 0, 3),  # the earliest saved iterate
        ([2, 2, 3], 1, 3),  # ties stop the walk
        ([7], 0, 1),
    ],
)
def test_backtrack(values, chosen, evals):
    saved = [(i + 1, np.full(2, float(i))) for i in range(len(values))]
    calls = []

    def f(i, x):
        calls.append(i)
        return values[int(x[0])]

    j, fj, n = backtrack(saved, f)
    assert (j, fj, n) == (chosen, values[chosen], evals)
    assert calls == [len(values) - k for k in range(evals)]


def test_levenberg_marquardt_table():
    table = {
        float("nan"): 1.5,
        float("-inf"): 1.5,
        -1.0: 1.5,
        0.1: 1.5,
        0.25: 1.0,
        0.5: 1.0,
        0.75: 1.0,
        0.9: 2 / 3,
        1.3: 2 / 3,
    }
    for rho, factor in table.items():
        assert update_damping(2.0, rho) == pytest.approx(2.0 * factor), rho


def test_line_search():
    f = lambda eta: (eta - 0.3) ** 2  # along d, f0 = 0.09, slope = -0.6
    assert line_search(f, 0.09, 0.6) == (0.0, 0.09, 0)  # ascent direction: rejected
    eta, fe, n = line_search(f, 0.09, -0.6)
    # first eta = 0.8^k with (eta - 0.3)^2 <= 0.09 - 0.006 eta
    k = next(k for k in range(60) if (0.8**k - 0.3) ** 2 <= 0.09 - 0.006 * 0.8**k)
    assert eta == pytest.approx(0.8**k) and n == k + 1 and fe == pytest.approx(f(eta))
    assert line_search(lambda e: 1.0 + e, 1.0, -1.0, max_tries=5) == (0.0, 1.0, 5)
    assert line_search(f, 0.09, -0.6, f_at_one=0.0)[0] == 1.0  # reuse f(1)


# -- the optimiser on a small path-integration problem ------------------------------------------
N, T, M = 20, 50, 50


def _path_integration(m, t, seed, model):
    """Random smooth paths: AR(1) angular velocity, intermittent speed; targets = positions."""
    rng = np.random.default_rng(seed)
    turn = np.zeros((m, t))
    w = np.zeros(m)
    for k in range(t):
        w = 0.8 * w + rng.normal(0.0, 0.3, m)
        turn[:, k] = w
    heading = np.angle(np.exp(1j * (rng.uniform(-np.pi, np.pi, (m, 1)) + np.cumsum(turn, axis=1))))
    speed = np.where(rng.random((m, t)) < 0.5, rng.uniform(0.0, 0.1, (m, t)), 0.0)
    step = speed[..., None] * np.stack([np.cos(heading), np.sin(heading)], axis=-1)
    return encode_inputs(speed, heading, model), np.cumsum(step, axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def small():
    model = ModelParams(n_units=N, heading_encoding="angle", speed_scale=10.0)  # inputs of order 1
    objective = Objective(model, tf.float32)
    w = init_weights(model, np.random.default_rng(1))
    weights = [tf.constant(w[k]) for k in WEIGHT_NAMES]

    def batch(seed):
        inputs, targets = _path_integration(M, T, seed, model)
        lam = tf.constant(1e-3, tf.float32)
        return Batch(tf.constant(inputs), tf.constant(targets), objective.noise((M, T), (seed, 7)), lam, lam)

    return dict(objective=objective, weights=weights, batch=batch)


REQUIRED = [
    "loss",
    "error",
    "r_l2",
    "r_fr",
    "loss_after",
    "damping",
    "cg_iters",
    "cg_chosen",
    "rho",
    "step_size",
    "grad_norm",
    "seconds",
]


def test_hf_lowers_loss_and_damping_follows_rho(small):
    # Curvature on the whole (small) batch: the quadratic model is then the batch's own, and
    # the Levenberg-Marquardt mechanics are checked without sub-batch sampling error.
    params = HessianFreeParams(
        damping="tikhonov", initial_damping=0.01, curvature_fraction=1.0, structural_damping=0.03,
        structural_damping_normalisation="per_trial",
    )
    hf = HessianFree(small["objective"], params)
    batch = small["batch"](0)  # the same trials and noise throughout: losses comparable
    w, logs = small["weights"], []
    for _ in range(8):
        w, log = hf.step(w, batch)
        logs.append(log)
    assert list(logs[0])[:4] == ["loss", "error", "r_l2", "r_fr"]
    for log in logs:
        assert set(REQUIRED) <= set(log) and all(isinstance(v, float) for v in log.values())
        assert log["cg_stop"] in CG_STOP_CODES.values()
        assert 1 <= log["cg_iters"] <= params.cg_max_iters and 1 <= log["cg_chosen"] <= log["cg_iters"]
        if log["step_size"] > 0:  # accepted: Armijo decrease on the batch
            assert log["loss_after"] < log["loss"]
        else:
            assert log["loss_after"] == log["loss"]
    losses = [logs[0]["loss"]] + [log["loss_after"] for log in logs]
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # monotone over accepted steps
    for a, b in zip(logs, logs[1:]):
        assert b["loss"] == pytest.approx(a["loss_after"], rel=1e-6)
    assert losses[-1] < losses[0] / 3
    # Damping follows the Levenberg-Marquardt rule from each update's rho.
    for a, b in zip(logs, logs[1:]):
        assert a["damping_next"] == pytest.approx(update_damping(a["damping"], a["rho"]), rel=1e-12)
        assert b["damping"] == a["damping_next"]
    assert hf.damping == logs[-1]["damping_next"]
    factors = {round(a["damping_next"] / a["damping"], 6) for a in logs}
    assert factors >= {round(2 / 3, 6)} and factors <= {1.0, 1.5, round(2 / 3, 6)}
    # Damping values are passed as tensors: nothing retraced over the updates.
    assert hf.gn.product.experimental_get_tracing_count() == 1
    assert hf.gn.quadratic_forms.experimental_get_tracing_count() == 1


def test_state_round_trip_gives_identical_next_step(small):
    params = HessianFreeParams(initial_damping=0.05, curvature_fraction=0.6)
    a = HessianFree(small["objective"], params)
    w = small["weights"]
    for seed in (1, 2):
        w, _ = a.step(w, small["batch"](seed))
    state = {k: np.array(v) for k, v in a.get_state().items()}
    assert state["cg_prev"].shape == (sum(int(np.prod(t.shape)) for t in w),)
    b = HessianFree(small["objective"], params)
    b.set_state(state)
    batch = small["batch"](3)
    wa, la = a.step(w, batch)
    wb, lb = b.step(w, batch)
    la.pop("seconds"), lb.pop("seconds")
    np.testing.assert_equal(la, lb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    np.testing.assert_array_equal(a.get_state()["cg_prev"], b.get_state()["cg_prev"])
    # A fresh optimiser's state round trips too (no CG solution yet).
    c = HessianFree(small["objective"], params)
    c.set_state(HessianFree(small["objective"], params).get_state())
    assert c.prev is None and c.damping == 0.05


def test_curvature_batch_is_a_subset(small):
    batch = small["batch"](5)
    hf = HessianFree(small["objective"], HessianFreeParams(curvature_fraction=0.3))
    curv = hf._curvature_batch(batch)
    assert curv.inputs.shape[0] == round(0.3 * M) and curv.noise.shape[0] == round(0.3 * M)
    np.testing.assert_array_equal(curv.noise.numpy(), batch.noise.numpy()[: round(0.3 * M)])
    whole = HessianFree(small["objective"], HessianFreeParams(curvature_fraction=1.0))
    assert whole._curvature_batch(batch) is batch
    _, log = hf.step(small["weights"], batch)
    assert np.isfinite(log["rho"]) and log["loss_after"] <= log["loss"]


def test_gradient_clipping_is_logged(small):
    hf = HessianFree(small["objective"], HessianFreeParams(clip_grad_norm=1e-3, initial_damping=0.01))
    _, log = hf.step(small["weights"], small["batch"](4))
    assert log["grad_norm"] > 1e-3
    assert log["grad_scale"] == pytest.approx(1e-3 / log["grad_norm"])
    assert log["loss_after"] <= log["loss"]


# -- adaptive penalty rules -------------------------------------------------------------------
CODE_2020 = PenaltyAdaptParams(rule="code_2020")
FIXED = PenaltyAdaptParams(rule="fixed")


@pytest.mark.parametrize(
    "rule, l2, fr, expected",
    [
        # code (the port of the authors' trainer): L2 band [E/500, E/3], FR only lowered above E/3
        ("code", 0.1, 0.1, (0.1, 0.1)),  # both inside
        ("code", 0.5, 0.5, (0.5 * 2 / 3, 0.5 * 2 / 3)),  # both above E/3
        ("code", 1e-3, 1e-6, (1.5e-3, 1e-6)),  # L2 below E/500 is raised; FR is never raised
        ("code", 1 / 3, 1 / 3, (1 / 3, 1 / 3)),  # upper edges are inside
        ("code", 1 / 500, 0.0, (1 / 500, 0.0)),  # lower edge is inside
        # code_2020 (the first author's later trainer): [E/1000, E/6] and [E/40, E/4]
        ("code_2020", 0.1, 0.1, (0.1, 0.1)),
        ("code_2020", 0.5, 1.0, (0.5 * 2 / 3, 2 / 3)),
        ("code_2020", 1e-4, 0.01, (1.5e-4, 0.015)),
        ("code_2020", 1 / 6, 1 / 4, (1 / 6, 1 / 4)),
        ("code_2020", 1 / 1000, 1 / 40, (1 / 1000, 1 / 40)),
        # fixed: never changes
        ("fixed", 0.5, 1.0, (0.5, 1.0)),
        ("fixed", 1e-6, 1e-6, (1e-6, 1e-6)),
    ],
)
def test_adaptive_penalty_rule_table(rule, l2, fr, expected):
    """With E = R_L2 = R_FR = 1 the penalty equals the weight: each row checks one band edge."""
    got = adapt_penalty_weights(1.0, 1.0, 1.0, l2, fr, PenaltyAdaptParams(rule=rule))
    assert got == pytest.approx(expected, rel=1e-15)


def test_adaptive_penalties_misc():
    assert adapt_penalty_weights(float("nan"), 1.0, 1.0, 0.5, 1.0) == (0.5, 1.0)
    custom = PenaltyAdaptParams(rule="code_2020", decrease=0.5)
    assert adapt_penalty_weights(1.0, 1.0, 1.0, 0.7, 0.1, custom) == (0.35, 0.1)
    with pytest.raises(ValueError, match="training.adapt_penalties.increase"):
        PenaltyAdaptParams(increase=0.9)
    with pytest.raises(ValueError, match="training.adapt_penalties.rule"):
        PenaltyAdaptParams(rule="bands")
    with pytest.raises(ValueError, match="training.adapt_penalties.enabled: unknown key"):
        PenaltyAdaptParams.from_dict({"enabled": True})


def test_structural_damping_normalisations_agree(small):
    """mu per element (CODE: 1500) equals mu / (T N) per trial (0.03 at T = 500, N = 100), and
    the optimiser's damped products agree exactly when the two are set that way."""
    from cw.network.optimizers.params import structural_coefficient

    per_el = HessianFreeParams(structural_damping=1500.0, structural_damping_normalisation="per_element")
    per_tr = HessianFreeParams(structural_damping=0.03, structural_damping_normalisation="per_trial")
    assert structural_coefficient(per_el, 500, 100) == pytest.approx(0.03, rel=1e-15)
    assert structural_coefficient(per_tr, 500, 100) == 0.03
    # one update with each: identical steps
    steps = []
    for p in (
        HessianFreeParams(structural_damping=0.5 * T * N, structural_damping_normalisation="per_element"),
        HessianFreeParams(structural_damping=0.5, structural_damping_normalisation="per_trial"),
    ):
        w, log = HessianFree(small["objective"], p).step(small["weights"], small["batch"](3))
        steps.append((np.concatenate([np.ravel(t.numpy()) for t in w]), log["structural_damping"]))
    assert steps[0][1] == pytest.approx(steps[1][1], rel=1e-12) and steps[0][1] > 0
    np.testing.assert_allclose(steps[0][0], steps[1][0], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="structural_damping_normalisation"):
        HessianFreeParams(structural_damping_normalisation="per_batch")


def test_cg_stops_when_on_save_says_so():
    a, b = _spd(50, 1e3, 0)
    seen = []

    def on_save(i, x):
        seen.append(i)
        return i >= 6

    res = conjugate_gradient(lambda v: a @ v, b, max_iters=200, epsilon=1e-30, on_save=on_save)
    assert seen == [1, 2, 3, 4, 6] and res.stop == "loss_rise"
    assert res.iterations == 6 and res.products == 6 and res.saved[-1][0] == 6
    np.testing.assert_allclose(res.phi[6], _phi(a, b, res.x), rtol=1e-9)


def test_cg_stop_after_rises_evaluates_forward_and_stops_cg(small):
    """cg_stop_after_rises = k evaluates the batch loss at each saved iterate while CG runs and
    stops CG after k rises past the best one: k = 1 stops at the saved iterate after the chosen
    one, with fewer products than Martens' walk back from the last iterate (k = 0); k larger
    than the number of saved iterates evaluates them all and chooses the lowest loss, never
    above Martens' choice."""
    base = dict(damping="tikhonov", initial_damping=1e-4, curvature_fraction=1.0, cg_max_iters=60, cg_epsilon=1e-12)
    batch = small["batch"](4)
    logs = {}
    for k in (0, 1, 100):
        hf = HessianFree(small["objective"], HessianFreeParams(cg_stop_after_rises=k, **base))
        logs[k] = hf.step(small["weights"], batch)[1]
    l0, l1, lall = logs[0], logs[1], logs[100]
    saved = save_schedule(60) + [60]
    assert l0["cg_iters"] == lall["cg_iters"] == 60 and l0["cg_stop"] == CG_STOP_CODES["max_iters"]
    assert lall["backtrack_evals"] == len(saved)  # every saved iterate evaluated
    assert l1["cg_stop"] == CG_STOP_CODES["loss_rise"] and l1["cg_iters"] < 60
    assert saved[saved.index(int(l1["cg_chosen"])) + 1] == l1["cg_iters"]
    assert l1["cg_products"] == l1["cg_iters"] < l0["cg_products"]
    assert l1["backtrack_evals"] == saved.index(int(l1["cg_iters"])) + 1
    for log in (l0, lall):
        assert log["step_size"] == 1.0  # the chosen iterate taken whole: loss_after is its loss
    assert lall["loss_after"] <= l0["loss_after"]
    with pytest.raises(ValueError, match="cg_stop_after_rises"):
        HessianFreeParams(cg_stop_after_rises=-1)


# -- the authors' damping: the penalty weights are the damping -------------------------------------
def test_penalty_damping_params():
    assert HessianFreeParams().damping == "penalty_weights" and HessianFreeParams().lm_weights == "l2_fr"
    with pytest.raises(ValueError, match="training.hessian_free.damping"):
        HessianFreeParams(damping="lambda")
    with pytest.raises(ValueError, match="training.hessian_free.lm_weights"):
        HessianFreeParams(lm_weights="fr")


_THIRD, _LOW = 1.0 / 3.0, 1.0 / 500.0


@pytest.mark.parametrize(
    "pen_l2, pen_fr, rho, lm, banded, final",
    [
        # E = 1, R_L2 = R_FR = 1, so each penalty equals its weight.  Bands (code rule) first:
        # lambda_L2 x 2/3 above E/3, x 3/2 below E/500; lambda_FR x 2/3 above E/3.  Then the
        # Levenberg-Marquardt factor on both (l2_fr) or lambda_L2 alone (l2): rho > 3/4: 2/3,
        # rho < 1/4 or undefined: 3/2, the edges themselves unchanged.
        (0.1, 0.1, 0.5, "l2_fr", (0.1, 0.1), (0.1, 0.1)),
        (0.1, 0.1, 0.75, "l2_fr", (0.1, 0.1), (0.1, 0.1)),  # rho edge: inside
        (0.1, 0.1, 0.25, "l2_fr", (0.1, 0.1), (0.1, 0.1)),  # rho edge: inside
        (0.1, 0.1, 0.9, "l2_fr", (0.1, 0.1), (0.1 * 2 / 3, 0.1 * 2 / 3)),
        (0.1, 0.1, 0.1, "l2_fr", (0.1, 0.1), (0.15, 0.15)),
        (0.1, 0.1, -math.inf, "l2_fr", (0.1, 0.1), (0.15, 0.15)),  # the loss rose
        (0.1, 0.1, math.nan, "l2_fr", (0.1, 0.1), (0.15, 0.15)),  # model predicts no decrease
        (0.1, 0.1, 0.9, "l2", (0.1, 0.1), (0.1 * 2 / 3, 0.1)),
        (0.1, 0.1, 0.1, "l2", (0.1, 0.1), (0.15, 0.1)),
        (0.5, 0.5, 0.9, "l2_fr", (0.5 * 2 / 3, 0.5 * 2 / 3), (0.5 * 4 / 9, 0.5 * 4 / 9)),  # both above E/3
        (0.5, 0.5, 0.1, "l2_fr", (0.5 * 2 / 3, 0.5 * 2 / 3), (0.5, 0.5)),  # band down, LM up: back
        (_THIRD, _THIRD, 0.5, "l2_fr", (_THIRD, _THIRD), (_THIRD, _THIRD)),  # upper band edge inside
        (_LOW, 0.0, 0.5, "l2_fr", (_LOW, 0.0), (_LOW, 0.0)),  # lower band edge inside
        (1e-3, 1e-6, 0.9, "l2_fr", (1.5e-3, 1e-6), (1e-3, 1e-6 * 2 / 3)),  # L2 raised, FR never raised
        (1e-3, 1e-6, 0.1, "l2", (1.5e-3, 1e-6), (2.25e-3, 1e-6)),
    ],
)
def test_coupled_penalty_update_table(pen_l2, pen_fr, rho, lm, banded, final):
    """One update of the authors' scheme: the band rule before CG, then the LM rule after it."""
    got_banded = adapt_penalty_weights(1.0, 1.0, 1.0, pen_l2, pen_fr, PenaltyAdaptParams(rule="code"))
    assert got_banded == pytest.approx(banded, rel=1e-14)
    got = update_penalty_damping(*got_banded, rho, lm)
    assert got == pytest.approx(final, rel=1e-14)


def test_penalty_damping_step_moves_the_penalty_weights_by_rho(small):
    """With penalty_weights the optimiser keeps no lambda: each step returns the LM factors of its
    rho for the penalty weights it was given (both weights with lm_weights l2_fr); rho is -inf
    whenever the loss on the curvature batch rose, and the structural weight is mu lambda_L2."""
    from cw.network.optimizers.params import structural_coefficient

    params = HessianFreeParams(curvature_fraction=1.0, structural_damping=1500.0)
    hf = HessianFree(small["objective"], params)
    w, lam_l2, lam_fr, factors = small["weights"], 0.5, 0.1, set()
    batch0 = small["batch"](0)
    for _ in range(8):
        batch = batch0._replace(lambda_l2=tf.constant(lam_l2, tf.float32), lambda_fr=tf.constant(lam_fr, tf.float32))
        w, log = hf.step(w, batch)
        assert "damping" not in log and hf.damping == params.initial_damping  # no lambda I term
        assert log["structural_damping"] == pytest.approx(lam_l2 * structural_coefficient(params, T, N), rel=1e-7)
        assert not log["rho"] < 0 or log["rho"] == -math.inf  # a rise of the loss is -inf, never a finite < 0
        f = update_damping(1.0, log["rho"])
        assert (log["lambda_l2_factor"], log["lambda_fr_factor"]) == (f, f)
        factors.add(round(f, 6))
        lam_l2, lam_fr = update_penalty_damping(lam_l2, lam_fr, log["rho"])
    assert round(2 / 3, 6) in factors  # the first updates are well modelled: the weights fall
    assert factors <= {1.0, 1.5, round(2 / 3, 6)}
