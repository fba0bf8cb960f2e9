"""L2 regularization and weight decay: fill in the three functions."""

import numpy as np  # noqa: F401 - you will need it


def l2_penalty(w, lam):
    """Return lam times the sum of the squares of every element of w."""
    raise NotImplementedError("l2_penalty")


def l2_gradient(data_grad, w, lam):
    """Return the gradient of the regularized loss: data_grad + 2 * lam * w."""
    raise NotImplementedError("l2_gradient")


def weight_decay_step(w, data_grad, lr, lam):
    """Return new weights w * (1 - 2 * lr * lam) - lr * data_grad, leaving w unchanged."""
    raise NotImplementedError("weight_decay_step")
