"""The mean of the squared weights instead of their sum."""

import numpy as np

HINT = (
    "The penalty sums the squares of all weights, λ·Σwᵢ², it does not average them: "
    "use np.sum, not np.mean (with n weights, the mean is n times too small)."
)


def l2_penalty(w, lam):
    return lam * np.mean(np.asarray(w) ** 2)
