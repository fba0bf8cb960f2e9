"""Reference solution of the L2 exercise (never shown to students)."""

import numpy as np


def l2_penalty(w, lam):
    """Return lam * sum(w**2) over every element."""
    return lam * np.sum(w**2)


def l2_gradient(data_grad, w, lam):
    """Return data_grad + 2 * lam * w."""
    return data_grad + 2 * lam * w


def weight_decay_step(w, data_grad, lr, lam):
    """Return a new array w * (1 - 2 * lr * lam) - lr * data_grad."""
    return w * (1 - 2 * lr * lam) - lr * data_grad
