"""λ‖w‖ (the Euclidean norm) instead of λ‖w‖² (its square)."""

import numpy as np

HINT = (
    "The L2 penalty uses the squared norm, λ‖w‖² = λ·Σwᵢ²; np.linalg.norm(w) is the "
    "square root of that sum. Square it, or simply sum w**2."
)


def l2_penalty(w, lam):
    return lam * np.sqrt(np.sum(np.asarray(w, dtype=float) ** 2))
