"""The data step is taken first, then the decay is applied to the updated weights."""

HINT = (
    "The decay factor (1 − 2αλ) multiplies the current weights w, not the weights after "
    "the data step: w·(1 − 2αλ) − α·∂L/∂w. Shrinking (w − α·∂L/∂w) adds an extra "
    "2α²λ·∂L/∂w that grows with the step size."
)


def weight_decay_step(w, data_grad, lr, lam):
    return (w - lr * data_grad) * (1 - 2 * lr * lam)
