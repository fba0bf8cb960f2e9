"""The factor 2 of d(λw²)/dw = 2λw is dropped, in the gradient and in the decay."""

HINT = (
    "The derivative of λ·w² is 2λw, not λw: don't forget the factor 2 "
    "(in the gradient, and in the decay factor 1 − 2αλ)."
)


def l2_gradient(data_grad, w, lam):
    return data_grad + lam * w


def weight_decay_step(w, data_grad, lr, lam):
    return w * (1 - lr * lam) - lr * data_grad
