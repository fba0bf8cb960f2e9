"""Per-student parameters: deterministic per seed, within their range, varied across seeds."""

from server.scoring.params import draw_params, student_seed

SPECS = {"alpha": {"min": 0.001, "max": 0.05, "step": 0.001}, "lam": {"choices": [0.1, 0.5]}}


def test_same_seed_same_values():
    seed = student_seed(3, 7, "q5")
    assert draw_params(SPECS, seed) == draw_params(SPECS, seed)


def test_values_stay_on_the_grid_and_vary():
    draws = [draw_params(SPECS, student_seed(1, user, "q5")) for user in range(200)]
    alphas = {d["alpha"] for d in draws}
    assert all(0.001 <= a <= 0.05 and round(a * 1000) == a * 1000 for a in alphas)
    assert len(alphas) > 20
    assert {d["lam"] for d in draws} == {0.1, 0.5}


def test_assignment_and_question_change_the_seed():
    assert student_seed(1, 2, "q5") != student_seed(2, 1, "q5")
    values = {str(draw_params(SPECS, student_seed(a, 1, "q5"))) for a in range(20)}
    assert len(values) > 1
