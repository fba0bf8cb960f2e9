"""The regularization term is subtracted from the gradient, so the weights grow."""

HINT = (
    "Check the sign of the decay: the penalty pulls weights towards zero, so the gradient "
    "is ∂L/∂w + 2λw and the weights are multiplied by (1 − 2αλ), which is below 1."
)


def l2_gradient(data_grad, w, lam):
    return data_grad - 2 * lam * w


def weight_decay_step(w, data_grad, lr, lam):
    return w * (1 + 2 * lr * lam) - lr * data_grad
