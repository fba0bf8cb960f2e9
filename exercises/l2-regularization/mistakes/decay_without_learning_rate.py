"""The decay factor is (1 − 2λ): the learning rate is left out of it."""

HINT = (
    "The decay is part of the gradient step, so it is scaled by the learning rate too: "
    "the factor is (1 − 2αλ), not (1 − 2λ)."
)


def weight_decay_step(w, data_grad, lr, lam):
    return w * (1 - 2 * lam) - lr * data_grad
