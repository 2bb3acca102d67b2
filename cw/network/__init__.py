"""The network: CTRNN model, objective, curvature, optimizers, penalties and training."""
