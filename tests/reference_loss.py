"""The loss of eq. 3-5 computed literally from the paper's sums (a reference for the tests)."""

from typing import Mapping

import numpy as np

from cw.network.model import LossParams


def loss_numpy(
    weights: Mapping[str, np.ndarray],
    u: np.ndarray,
    y: np.ndarray,
    targets: np.ndarray,
    loss: LossParams,
) -> dict[str, float]:
    """Loss terms of eq. 3-5 computed literally from the paper's sums (reference for tests).

    u : (M, T, N) rates; y, targets : (M, T, N_out).
    """
    m, t, n = u.shape
    n_out = y.shape[-1]
    n_in = weights["W_in"].shape[0]
    error = float(np.sum((y - targets) ** 2) / (m * t * n_out))
    r_l2 = float(np.sum(weights["W_in"] ** 2) / (n * n_in) + np.sum(weights["W_out"] ** 2) / (n * n_out))
    r_fr = float(np.sum(u**2) / (n * t * m))
    return {
        "loss": error + loss.lambda_l2 * r_l2 + loss.lambda_fr * r_fr,
        "error": error,
        "r_l2": r_l2,
        "r_fr": r_fr,
    }
