"""The update is done in place (w *= ...; w -= ...), overwriting the caller's weights."""

HINT = (
    "Your function changed the caller's array: operators like w *= ... or w -= ... write "
    "into w itself. Compute a new array instead, e.g. new_w = w * (1 - 2*lr*lam) - lr*data_grad."
)


def weight_decay_step(w, data_grad, lr, lam):
    w *= 1 - 2 * lr * lam
    w -= lr * data_grad
    return w
