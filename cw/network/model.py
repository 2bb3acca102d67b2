"""The continuous-time recurrent network of Cueva & Wei (2018), eq. 1-2.

Discretised with the Euler method, one step of duration ``dt = alpha * tau``, with the intrinsic
noise on the firing rates (``noise_location: rate``, the default; CODE)::

    x[t] = x[t-1] + alpha * (-x[t-1] + u[t-1] @ W_rec + I[t] @ W_in + b)
    u[t] = tanh(x[t]) + eta[t]
    y[t] = u[t] @ W_out

or inside the bracket of the paper's eq. 1 (``noise_location: activation``; OURS, the earlier
default)::

    x[t] = x[t-1] + alpha * (-x[t-1] + u[t-1] @ W_rec + I[t] @ W_in + b + xi[t])
    u[t] = tanh(x[t])

with ``x[-1] = 0`` (so ``u[-1] = 0``); tanh is max(0, tanh) for ``nonlinearity: retanh``.  Row-vector convention: a batch of states is an array of
shape ``(M, N)``; ``W_in`` has shape ``(N_in, N)``, ``W_rec`` ``(N, N)`` and ``W_out`` ``(N, N_out)``,
i.e. the transposes of the matrices written in the paper.  There is no output bias (PAPER).

Weights are held in a :class:`Weights` mapping of four arrays (numpy or TensorFlow) in the fixed
order :data:`WEIGHT_NAMES`.

Examples
--------
>>> ModelParams().noise_location  # the default of config.yaml and of the training
'rate'
>>> w = {"W_in": np.ones((1, 1)), "W_rec": np.zeros((1, 1)), "b": np.zeros(1), "W_out": np.ones((1, 1))}
>>> u, y = simulate_numpy(w, np.ones((1, 2, 1)), alpha=0.1, noise=np.full((1, 2, 1), 0.5), noise_location="rate")
>>> bool(np.allclose(u[0, :, 0], np.tanh([0.1, 0.19]) + 0.5))  # x = 0.1, then 0.9 * 0.1 + 0.1
True
>>> u, y = simulate_numpy(w, np.ones((1, 1, 1)), alpha=0.1, noise=np.full((1, 1, 1), 0.5), noise_location="activation")
>>> bool(np.isclose(u[0, 0, 0], np.tanh(0.1 * (1 + 0.5))))
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

from cw.config import schema_default
from cw.io import WEIGHT_NAMES  # noqa: F401 (trainable parameters, in the order used everywhere)
from cw.validation import section_from_dict

RECURRENT_INITS = ("orthogonal", "gaussian")
NOISE_LOCATIONS = ("rate", "activation")
NONLINEARITIES = ("tanh", "retanh")
HEADING_ENCODINGS = ("turns", "angle", "cos_sin")


@dataclass(frozen=True)
class ModelParams:
    """Architecture and initialisation of the CTRNN.

    Parameters
    ----------
    n_units : int
        Number of recurrent units N (PAPER: 100).
    alpha : float
        Euler step as a fraction of the time constant, dt / tau (PAPER: 0.1).
    noise_std : float
        Standard deviation of the intrinsic noise, drawn independently per unit and step during
        training, in units of its location's variable (PAPER: present, "the value of the noise
        variance is not crucial"; CODE-2020: 0.1 on the rates).
    noise_location : {"rate", "activation"}
        ``rate``: the noise is added to the firing rates every step, ``u = tanh(x) + eta``, so the
        read-out, the recurrence and the metabolic cost all see it (CODE: ``bhneverlearn`` of the
        authors' code).  ``activation``: xi is added inside the Euler bracket of eq. 1, i.e.
        ``alpha * xi`` per step on x (OURS, the previous default).
    nonlinearity : {"tanh", "retanh"}
        Firing rate of the activation: ``tanh(x)`` (PAPER) or the rectified ``max(0, tanh(x))``
        (CODE-2020, the first author's later code; non-negative rates).
    init_recurrent : {"orthogonal", "gaussian"}
        Initialisation of W_rec (PAPER: orthogonal for square and triangle, Gaussian for hexagon).
    init_recurrent_gain : float
        Gain g of W_rec: orthogonal matrix times g, or entries N(0, g^2 / N)
        (PAPER: 1.5 for the Gaussian init; OURS: 1.0 for the orthogonal init).
    heading_encoding : {"turns", "angle", "cos_sin"}
        Heading input: one scalar, the heading in turns, ``heading / (2 pi)`` wrapped to [0, 1)
        (CODE: the port of the authors' trainer, ``dataset.py``); one scalar angle in radians
        (PAPER says "the direction", unscaled; the earlier default); or two channels (cos, sin)
        (OURS, alternative).
    speed_scale : float
        Speed input = speed (m/step) times this factor, in step/m (CODE: 1, the raw speed of
        0 to 0.2 m/step; the earlier default was 10, OURS).
    n_outputs : int
        Number of linear read-outs, the x and y coordinates (PAPER: 2).
    """

    n_units: int = schema_default("model", "n_units")
    alpha: float = schema_default("model", "alpha")
    noise_std: float = schema_default("model", "noise_std")
    noise_location: str = schema_default("model", "noise_location")
    nonlinearity: str = schema_default("model", "nonlinearity")
    init_recurrent: str = schema_default("model", "init_recurrent")
    init_recurrent_gain: float = schema_default("model", "init_recurrent_gain")
    heading_encoding: str = schema_default("model", "heading_encoding")
    speed_scale: float = schema_default("model", "speed_scale")
    n_outputs: int = schema_default("model", "n_outputs")

    def __post_init__(self) -> None:
        if self.n_units < 1:
            raise ValueError(f"model.n_units: must be >= 1, got {self.n_units}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"model.alpha: must be in (0, 1], got {self.alpha}")
        if self.noise_std < 0:
            raise ValueError(f"model.noise_std: must be >= 0, got {self.noise_std}")
        for key, allowed in (
            ("noise_location", NOISE_LOCATIONS), ("nonlinearity", NONLINEARITIES),
            ("init_recurrent", RECURRENT_INITS), ("heading_encoding", HEADING_ENCODINGS),
        ):
            value = getattr(self, key)
            if value not in allowed:
                raise ValueError(f"model.{key}: unknown '{value}' (expected {', '.join(allowed)})")

    @property
    def n_inputs(self) -> int:
        """Number of input channels: speed plus one (turns, angle) or two (cos, sin) heading channels."""
        return 3 if self.heading_encoding == "cos_sin" else 2

    @classmethod
    def from_dict(cls, d: Mapping) -> "ModelParams":
        return section_from_dict(cls, d, "model")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LossParams:
    """Penalty weights of the loss (eq. 3-5).

    Parameters
    ----------
    lambda_l2 : float
        Weight of the L2 penalty on W_in and W_out, eq. 4, the starting value when the weights
        adapt (dimensionless; CODE: 0.5; CODE-2020: 0.25).
    lambda_fr : float
        Weight of the metabolic cost (mean squared firing rate), eq. 5, the starting value when
        the weights adapt (dimensionless; CODE: 0.1; CODE-2020: 0.05). 0 removes the metabolic
        cost (Fig. 5 ablation).
    """

    lambda_l2: float = schema_default("loss", "lambda_l2")
    lambda_fr: float = schema_default("loss", "lambda_fr")

    def __post_init__(self) -> None:
        for key in ("lambda_l2", "lambda_fr"):
            if getattr(self, key) < 0:
                raise ValueError(f"loss.{key}: must be >= 0, got {getattr(self, key)}")

    @classmethod
    def from_dict(cls, d: Mapping) -> "LossParams":
        return section_from_dict(cls, d, "loss")

    def to_dict(self) -> dict:
        return asdict(self)


Weights = dict  # name -> array, keys WEIGHT_NAMES


def init_weights(params: ModelParams, rng: np.random.Generator, dtype=np.float32) -> Weights:
    """Initial weights as in the paper.

    ``b = 0``, ``W_out = 0``, ``W_in ~ N(0, 1/N_in)`` and ``W_rec`` orthogonal (scaled by the gain)
    or ``N(0, gain^2 / N)``.

    Returns
    -------
    dict
        ``W_in`` (N_in, N), ``W_rec`` (N, N), ``b`` (N,), ``W_out`` (N, N_out).
    """
    n, n_in = params.n_units, params.n_inputs
    w_in = rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_in, n))
    if params.init_recurrent == "orthogonal":
        q, r = np.linalg.qr(rng.normal(size=(n, n)))
        q = q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
        w_rec = params.init_recurrent_gain * q
    else:
        w_rec = rng.normal(0.0, params.init_recurrent_gain / np.sqrt(n), size=(n, n))
    return {
        "W_in": w_in.astype(dtype),
        "W_rec": w_rec.astype(dtype),
        "b": np.zeros(n, dtype),
        "W_out": np.zeros((n, params.n_outputs), dtype),
    }


def encode_inputs(speed: np.ndarray, heading: np.ndarray, params: ModelParams) -> np.ndarray:
    """Network input I(t) from the trajectory's speed and heading.

    Parameters
    ----------
    speed : (M, T) array, m/step
    heading : (M, T) array, rad

    Returns
    -------
    (M, T, N_in) float32 array: ``[speed * speed_scale, heading / (2 pi) mod 1]`` (turns, in
    [0, 1)), ``[speed * speed_scale, heading]`` (angle, rad) or
    ``[speed * speed_scale, cos(heading), sin(heading)]``.

    Examples
    --------
    >>> p = ModelParams(heading_encoding="turns", speed_scale=1.0)
    >>> encode_inputs(np.array([[0.1, 0.0]]), np.array([[-np.pi / 2, 5 * np.pi]]), p)[0].tolist()
    [[0.10000000149011612, 0.75], [0.0, 0.5]]
    """
    s = np.asarray(speed, np.float32) * np.float32(params.speed_scale)
    if params.heading_encoding == "turns":
        turns = np.mod(np.asarray(heading, np.float64) / (2.0 * np.pi), 1.0).astype(np.float32)
        # float32 rounding can give exactly 1 for headings just below a multiple of 2 pi
        chans = [s, np.where(turns >= 1.0, np.float32(0.0), turns)]
    elif params.heading_encoding == "angle":
        h = np.asarray(heading, np.float32)
        chans = [s, h]
    else:
        h = np.asarray(heading, np.float32)
        chans = [s, np.cos(h), np.sin(h)]
    return np.stack(chans, axis=-1).astype(np.float32)


def simulate_numpy(
    weights: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    alpha: float,
    noise: np.ndarray | None = None,
    noise_location: str = "activation",
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy Euler integration of eq. 1-2: the reference implementation.

    Its ``noise_location`` default, ``"activation"``, is not the config's (``rate``): pass
    ``ModelParams.noise_location`` to simulate a run's network with noise.

    Parameters
    ----------
    weights : mapping with ``W_in``, ``W_rec``, ``b``, ``W_out``
    inputs : (M, T, N_in) array
    alpha : float, dt / tau
    noise : (M, T, N) array or None, the noise: xi added inside the Euler bracket
        (``noise_location="activation"``) or eta added to the rates, ``u = tanh(x) + eta``
        (``"rate"``), which then enter the recurrence and the read-out
    nonlinearity : "tanh" or "retanh" (max(0, tanh))

    Returns
    -------
    u : (M, T, N) firing rates after each step (with rate noise, the noisy rates)
    y : (M, T, N_out) read-out after each step
    """
    m, t_steps, _ = inputs.shape
    n = weights["W_rec"].shape[0]
    if noise_location not in NOISE_LOCATIONS:
        raise ValueError(f"noise_location: unknown '{noise_location}'")
    x = np.zeros((m, n), dtype=np.result_type(inputs, weights["W_rec"]))
    u = np.zeros_like(x)
    us = np.empty((m, t_steps, n), dtype=x.dtype)
    for t in range(t_steps):
        drive = inputs[:, t] @ weights["W_in"] + weights["b"]
        if noise is not None and noise_location == "activation":
            drive = drive + noise[:, t]
        x = x + alpha * (-x + u @ weights["W_rec"] + drive)
        u = rate_of(x, nonlinearity)
        if noise is not None and noise_location == "rate":
            u = u + noise[:, t]
        us[:, t] = u
    return us, us @ weights["W_out"]


def rate_of(x: np.ndarray, nonlinearity: str = "tanh") -> np.ndarray:
    """Firing rate of activations ``x``: tanh(x), or max(0, tanh(x)) for ``"retanh"``."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: unknown '{nonlinearity}'")
    r = np.tanh(x)
    return np.maximum(r, 0.0) if nonlinearity == "retanh" else r
