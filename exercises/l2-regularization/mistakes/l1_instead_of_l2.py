"""The L1 penalty λ·Σ|w| (and its gradient λ·sign(w)) instead of the L2 penalty."""

import numpy as np

HINT = (
    "This looks like the L1 penalty λ·Σ|wᵢ| (lasso). L2 regularization squares the "
    "weights: λ·Σwᵢ², whose gradient is 2λw, not λ·sign(w)."
)


def l2_penalty(w, lam):
    return lam * np.sum(np.abs(w))


def l2_gradient(data_grad, w, lam):
    return data_grad + lam * np.sign(w)


def weight_decay_step(w, data_grad, lr, lam):
    return w - lr * (data_grad + lam * np.sign(w))
