"""Speed of the training primitives against the matrix-product floor.

Usage::

    python -m benchmarks.bench_speed                      # 2 threads (or fewer cores), M = T = 500, N = 100
    python -m benchmarks.bench_speed --threads 1          # one TensorFlow / BLAS thread
    python -m benchmarks.bench_speed --batch 100 --steps 200 --units 100 --repeats 7 --hf-updates 3
    python -m benchmarks.bench_speed --no-hf              # the primitives only (no Hessian-free update)
    python -m benchmarks.bench_speed --compare            # throughput of the thread settings (see below)

In one process it measures, on the same shapes and thread count, float32:

(a) the **floor**: a numpy loop of the matrix products the passes cannot avoid, one
    ``(M x N) @ (N x N)`` product per step for the forward pass, three per step for the gradient
    (forward ``u W``, backward ``delta W^T``, weight gradient ``u^T delta``).  The operands are
    fixed uniform random numbers, so no denormal number ever reaches the BLAS (a contracting
    numpy recurrence slows down ~50x on denormals, which TensorFlow flushes to zero);
(b) ``cw``'s forward pass: the loss (``Objective.loss_terms``, the forward pass training runs:
    Euler loop, noise and loss sums; also without noise) and the rates (``Objective.simulate``,
    returning u as (M, T, N)); the loss and gradient (``loss_and_grad``); the Gauss-Newton
    curvature-vector product (``GaussNewton.product``) both as conjugate gradient calls it (new
    direction, same weights, inputs and noise) and at new weights; the noise sample and the
    numpy <-> TensorFlow conversion of one CG direction; and ``--hf-updates`` full Hessian-free
    updates with the default :class:`cw.network.optimizers.params.HessianFreeParams` on path-integration
    trials of the square arena, broken down into the gradient, the curvature products, the loss
    evaluations of CG backtracking and the line search, the quadratic form of rho, and the rest
    (conjugate gradient arithmetic, conversions).

Every time is the minimum over ``--repeats`` calls after a warm-up call (tracing excluded).  The
ratios printed are the targets of this benchmark: gradient / 3-product floor (target <= 2), forward / 1-product
floor (target <= 1.5), curvature product / gradient (target <= 1.5).  The thread counts printed
are TensorFlow's intra- and inter-op settings and the BLAS threads numpy actually uses
(threadpoolctl).  Timings on a shared machine vary: check ``uptime`` and repeat.

``--compare`` runs the benchmark (primitives and one Hessian-free update) in subprocesses for each
way of filling the machine's cores: one process with all of them, and ``cores / k`` processes side
by side with ``k`` threads each, and prints the aggregate throughput (gradients, curvature products
and Hessian-free updates per hour), i.e. which ``threads:`` setting of the train rule gives the
most trainings per hour.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_speed", description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="intra-op / BLAS threads")
    ap.add_argument("--batch", type=int, default=500, help="trials M")
    ap.add_argument("--steps", type=int, default=500, help="time steps T")
    ap.add_argument("--units", type=int, default=100, help="recurrent units N")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (minimum taken)")
    ap.add_argument("--hf-updates", type=int, default=2, help="Hessian-free updates to time (0: none)")
    ap.add_argument("--no-hf", action="store_true", help="same as --hf-updates 0")
    ap.add_argument("--compare", action="store_true", help="compare thread settings in subprocesses")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    return ap.parse_args(argv)


def _best(fn, repeats: int) -> float:
    fn()  # warm-up (tracing, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _floor(m: int, t: int, n: int, repeats: int) -> dict[str, float]:
    """numpy loop of the per-step products: forward (1 product) and gradient (3 products)."""
    import numpy as np

    rng = np.random.default_rng(0)
    # Uniform operands in [-1, 1]: no denormals anywhere.
    u = rng.uniform(-1, 1, (t, m, n)).astype(np.float32)
    d = rng.uniform(-1, 1, (t, m, n)).astype(np.float32)
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    wt = np.ascontiguousarray(w.T)
    out = np.empty((m, n), np.float32)
    acc = np.empty((n, n), np.float32)

    def forward():
        for k in range(t):
            np.matmul(u[k], w, out=out)

    def gradient():
        for k in range(t):
            np.matmul(u[k], w, out=out)  # forward   u W
            np.matmul(d[k], wt, out=out)  # backward  delta W^T
            np.matmul(u[k].T, d[k], out=acc)  # weights   u^T delta

    with np.errstate(all="ignore"):
        return {"forward": _best(forward, repeats), "gradient": _best(gradient, repeats)}


def _problem(m: int, t: int, n: int, seed: int = 0):
    """Path-integration trials of the square arena, the paper's initial weights and noise."""
    import numpy as np
    import tensorflow as tf

    from cw.task.arenas import make_arena
    from cw.network.model import WEIGHT_NAMES, ModelParams, encode_inputs, init_weights
    from cw.network.objective import Objective
    from cw.task.trajectories import TrajectoryParams, generate_trials

    model = ModelParams(n_units=n)
    rng = np.random.default_rng(seed)
    trials = generate_trials(make_arena("square", {"shape": "square", "side": 1.0}), m, TrajectoryParams(n_steps=t), rng)
    inputs = tf.constant(encode_inputs(trials.speed, trials.heading, model))
    targets = tf.constant(trials.position)
    w = init_weights(model, rng)
    w["W_out"] = (0.01 * rng.standard_normal(w["W_out"].shape)).astype(np.float32)
    weights = [tf.constant(w[k]) for k in WEIGHT_NAMES]
    objective = Objective(model)
    return model, objective, weights, inputs, targets


def _measure(args) -> dict:
    from cw.runtime import configure_threads

    configure_threads(args.threads)
    import numpy as np
    import tensorflow as tf
    from threadpoolctl import threadpool_info, threadpool_limits

    limits = threadpool_limits(args.threads, user_api="blas")  # noqa: F841 (kept for the process)
    m, t, n, r = args.batch, args.steps, args.units, args.repeats
    res: dict = {
        "M": m, "T": t, "N": n, "threads": args.threads,
        "tf_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "blas_threads": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
        "nproc": os.cpu_count(),
        "load": os.getloadavg(),
    }
    res["floor"] = _floor(m, t, n, r)

    from cw.network.curvature import GaussNewton, flatten, shapes_of, unflatten

    _, obj, weights, inputs, targets = _problem(m, t, n)
    lam_l2, lam_fr = tf.constant(0.25), tf.constant(0.05)
    noise_seed = [0]

    def make_noise():
        noise_seed[0] += 1
        return obj.noise((m, t), (7, noise_seed[0]))

    noise = make_noise()
    res["chunks"] = getattr(obj, "chunks", 1)
    res["noise"] = _best(make_noise, r)
    res["simulate"] = _best(lambda: obj.simulate(weights, inputs, noise), r)
    res["loss"] = _best(lambda: float(obj.loss_terms(weights, inputs, targets, noise, lam_l2, lam_fr)["loss"]), r)
    try:
        res["loss_no_noise"] = _best(lambda: float(obj.loss_terms(weights, inputs, targets, None, lam_l2, lam_fr)["loss"]), r)
    except Exception:  # noqa: BLE001 (versions of cw that need a noise tensor)
        res["loss_no_noise"] = float("nan")
    res["gradient"] = _best(lambda: obj.loss_and_grad(weights, inputs, targets, noise, lam_l2, lam_fr)[1][0].numpy(), r)

    gn = GaussNewton(obj)
    rng = np.random.default_rng(1)
    struct, one = tf.constant(1e-3), tf.constant(1.0)

    def direction():
        return [tf.constant((1e-2 * rng.standard_normal(w.shape)).astype(np.float32)) for w in weights]

    def product_cg():  # as CG calls it: the same weights, inputs and noise, a new direction
        return gn.product(weights, direction(), inputs, noise, lam_l2, lam_fr, struct, one)[0].numpy()

    def product_new():  # at new weights (a new update)
        w2 = [tf.identity(w) for w in weights]
        return gn.product(w2, direction(), inputs, noise, lam_l2, lam_fr, struct, one)[0].numpy()

    res["product_cg"] = _best(product_cg, r)
    res["product_new"] = _best(product_new, r)
    flat = flatten(weights)
    res["conversion"] = _best(lambda: flatten(unflatten(flat, shapes_of(weights))), r)

    n_hf = 0 if args.no_hf else args.hf_updates
    res["hf"] = _hf_updates(obj, weights, inputs, targets, m, t, n_hf) if n_hf > 0 else []
    res["load_after"] = os.getloadavg()
    return res


class _Timed:
    """Wraps a callable and adds up its calls and seconds."""

    def __init__(self, fn):
        self.fn, self.calls, self.seconds = fn, 0, 0.0

    def __call__(self, *a, **k):
        t0 = time.perf_counter()
        out = self.fn(*a, **k)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return out

    def __getattr__(self, name):
        return getattr(self.fn, name)


def _hf_updates(obj, weights, inputs, targets, m, t, n_updates) -> list[dict]:
    import tensorflow as tf

    from cw.network.optimizers import Batch
    from cw.network.optimizers.hessian_free import HessianFree
    from cw.network.optimizers.params import HessianFreeParams

    hf = HessianFree(obj, HessianFreeParams())
    out = []
    w = weights
    for k in range(n_updates):
        batch = Batch(inputs, targets, obj.noise((m, t), (11, k)), tf.constant(0.25), tf.constant(0.05))
        timers = {}
        saved = {}
        for owner, name in ((hf.gn, "product"), (hf.gn, "quadratic_forms"), (obj, "loss_terms"), (obj, "loss_and_grad")):
            saved[(owner, name)] = getattr(owner, name)
            timers[name] = _Timed(saved[(owner, name)])
            setattr(owner, name, timers[name])
        try:
            t0 = time.perf_counter()
            w, log = hf.step(w, batch)
            total = time.perf_counter() - t0
        finally:
            for (owner, name), fn in saved.items():
                setattr(owner, name, fn)
        row = {
            "seconds": total,
            "cg_iters": log["cg_iters"], "products": timers["product"].calls,
            "products_s": timers["product"].seconds,
            "gradient_s": timers["loss_and_grad"].seconds,
            "loss_evals": timers["loss_terms"].calls, "loss_evals_s": timers["loss_terms"].seconds,
            "quadratic_forms_s": timers["quadratic_forms"].seconds,
            "backtrack_evals": log["backtrack_evals"], "line_search_evals": log["line_search_evals"],
            "loss_before": log["loss"], "loss_after": log["loss_after"],
        }
        row["other_s"] = total - sum(row[k] for k in ("products_s", "gradient_s", "loss_evals_s", "quadratic_forms_s"))
        out.append(row)
    return out


def _report(res: dict) -> str:
    fl = res["floor"]
    lines = [
        f"benchmarks.bench_speed: M={res['M']} T={res['T']} N={res['N']} float32; threads={res['threads']} "
        f"(TensorFlow intra-op {res['tf_intra_op']}, inter-op {res['tf_inter_op']}, numpy BLAS {res['blas_threads']}); "
        f"batch chunks {res.get('chunks', 1)}; nproc={res['nproc']}; "
        f"load average {res['load'][0]:.2f} before, {res['load_after'][0]:.2f} after",
        f"  floor (numpy loop)  forward, {res['T']} products:    {fl['forward']:8.4f} s",
        f"  floor (numpy loop)  gradient, {3 * res['T']} products:  {fl['gradient']:8.4f} s",
        f"  noise sample (M, T, N) (objective.noise, once per update):  {res['noise']:8.4f} s",
        f"  numpy <-> TF conversion of a direction (per CG iteration):  {res['conversion']:8.4f} s",
        f"  forward: loss (loss_terms, with noise): {res['loss']:8.4f} s   {res['loss'] / fl['forward']:5.2f} x its floor   (target <= 1.5)",
        f"  forward: loss without noise:            {res['loss_no_noise']:8.4f} s   {res['loss_no_noise'] / fl['forward']:5.2f} x the forward floor",
        f"  forward: rates (simulate, (M, T, N)):   {res['simulate']:8.4f} s   {res['simulate'] / fl['forward']:5.2f} x the forward floor",
        f"  gradient (loss_and_grad):               {res['gradient']:8.4f} s   {res['gradient'] / fl['gradient']:5.2f} x its floor   (target <= 2)",
        f"  GN product, CG call (same weights):     {res['product_cg']:8.4f} s   {res['product_cg'] / res['gradient']:5.2f} x gradient  (target <= 1.5)",
        f"  GN product, at new weights:             {res['product_new']:8.4f} s   {res['product_new'] / res['gradient']:5.2f} x gradient",
    ]
    for k, h in enumerate(res["hf"]):
        lines.append(
            f"  HF update {k + 1}: {h['seconds']:7.2f} s  loss {h['loss_before']:.4g} -> {h['loss_after']:.4g}; "
            f"{h['products']} products {h['products_s']:.2f} s ({h['products_s'] / max(h['products'], 1):.3f} s each), "
            f"gradient {h['gradient_s']:.2f} s, {h['loss_evals']} loss evals {h['loss_evals_s']:.2f} s "
            f"(backtrack {h['backtrack_evals']:.0f}, line search {h['line_search_evals']:.0f}), "
            f"quadratic form {h['quadratic_forms_s']:.2f} s, other {h['other_s']:.2f} s"
        )
    return "\n".join(lines)


def _compare(args) -> None:
    cores = os.cpu_count() or 1
    settings = [(cores // k, k) for k in sorted({k for k in (1, 2, 4, 8, 16) if k <= cores} | {cores})]
    print(f"--compare: {cores} cores; settings (processes x threads): {settings}; load {os.getloadavg()[0]:.2f}")
    base = [sys.executable, os.path.abspath(__file__), "--batch", str(args.batch), "--steps", str(args.steps),
            "--units", str(args.units), "--repeats", str(args.repeats), "--hf-updates", str(max(2, args.hf_updates))]
    import tempfile

    rows = []
    for procs, threads in settings:
        with tempfile.TemporaryDirectory() as tmp:
            files = [os.path.join(tmp, f"{i}.json") for i in range(procs)]
            t0 = time.perf_counter()
            ps = [subprocess.Popen(base + ["--threads", str(threads), "--json", f], stdout=subprocess.DEVNULL)
                  for f in files]
            for p in ps:
                p.wait()
            wall = time.perf_counter() - t0
            res = []
            for f in files:
                with open(f) as fh:
                    res.append(json.load(fh))
        grad = max(x["gradient"] for x in res)
        prod = max(x["product_cg"] for x in res)
        hf = [x["hf"][-1]["seconds"] for x in res]  # the last update: no tracing
        rows.append((procs, threads, grad, prod, max(hf), procs * 3600 / grad, procs * 3600 / prod, procs * 3600 / max(hf), wall))
    print(f"  {'procs x threads':>16} {'gradient s':>11} {'product s':>10} {'HF update s':>12} "
          f"{'gradients/h':>12} {'products/h':>11} {'HF updates/h':>13}")
    for procs, threads, g, p, h, gh, ph, hh, wall in rows:
        print(f"  {procs:>9} x {threads:<4} {g:11.4f} {p:10.4f} {h:12.2f} {gh:12.0f} {ph:11.0f} {hh:13.0f}")
    print("  (times per process, the slowest of those running side by side; throughput of all of them together;")
    print("   HF update: the last of --hf-updates (>= 2) default Hessian-free updates)")


def main(argv=None) -> None:
    args = _parse(argv)
    if args.compare:
        _compare(args)
        return
    res = _measure(args)
    print(_report(res), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
