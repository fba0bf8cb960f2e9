"""Score distributions: mean, median and a histogram of equal bins from 0 to the maximum."""

import statistics

BINS = 10


def _points(value: float) -> float:
    return round(value, 6)


def distribution(scores: list[float], maximum: float | None) -> dict:
    """Mean, median and a BINS-bin histogram [{from, to, count}] of scores out of `maximum`.

    Bins are half-open [from, to), the last one closed, so full marks land in it; a
    score above the maximum (an override) counts in the last bin, a negative one in the first.
    """
    top = maximum if maximum and maximum > 0 else max(scores, default=0.0) or 1.0
    width = top / BINS
    counts = [0] * BINS
    for score in scores:
        counts[min(BINS - 1, max(0, int(score / width)))] += 1
    histogram = [
        {"from": _points(i * width), "to": _points((i + 1) * width), "count": counts[i]}
        for i in range(BINS)
    ]
    return {
        "mean": _points(statistics.fmean(scores)) if scores else None,
        "median": _points(statistics.median(scores)) if scores else None,
        "histogram": histogram,
    }


def attempts_summary(counts: list[int | None]) -> dict:
    """How many graded attempts students took to reach full marks, among those who did."""
    reached = sorted(c for c in counts if c is not None)
    by_count: dict[int, int] = {}
    for count in reached:
        by_count[count] = by_count.get(count, 0) + 1
    return {
        "reached": len(reached),
        "never": len(counts) - len(reached),
        "mean": _points(statistics.fmean(reached)) if reached else None,
        "median": _points(statistics.median(reached)) if reached else None,
        "histogram": [{"attempts": k, "students": v} for k, v in sorted(by_count.items())],
    }
