"""Benchmark the sandbox on L2-regularisation submissions, right and wrong.

Prints the median and p99 latency of one run (a submission and its calls, every layer
on), runs per second from 2 threads, peak memory, and, in the same run, the baseline:
a fresh Python process per submission in new namespaces (`unshare`), so the ratio shows.

    .venv/bin/python bench/sandbox_bench.py [--runs 300] [--baseline-runs 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.sandbox import Call, Limits, Sandbox  # noqa: E402
from server.sandbox.client import BOOTSTRAP, SANDBOX_DIR, ZYGOTE_ENV, Session, encode_request  # noqa: E402,I001

RIGHT = """
import numpy as np
def l2_penalty(w, lam):
    return lam * np.sum(w ** 2)
def l2_gradient(data_grad, w, lam):
    return data_grad + 2 * lam * w
def weight_decay_step(w, data_grad, lr, lam):
    return w * (1 - 2 * lr * lam) - lr * data_grad
"""
SUBMISSIONS = [
    RIGHT,
    RIGHT.replace("2 * lam * w", "lam * w"),  # forgot the factor 2
    RIGHT.replace(
        "return w * (1 - 2 * lr * lam) - lr * data_grad",
        "w -= lr * (data_grad + 2 * lam * w)\n    return w",
    ),  # modifies w in place
    RIGHT.replace("return lam * np.sum(w ** 2)", "raise ValueError(lam)"),  # raises
]
BASELINE_RUNNER = BOOTSTRAP.replace(
    "from rubric_sandbox import zygote\nzygote.main()\n",
    "from rubric_sandbox import runner\nimport numpy\nrunner.serve(int(sys.argv[1]))\n",
)


def make_calls() -> list[Call]:
    """A handful of calls on 0-d to 3-d float arrays, as a hidden test set would make."""
    rng = np.random.default_rng(0)
    lam, lr = np.array(0.1), np.array(0.01)
    calls = []
    for shape in [(), (5,), (4, 3), (2, 3, 4)]:
        w, g = rng.normal(size=shape), rng.normal(size=shape)
        calls += [Call("l2_penalty", (w, lam)), Call("l2_gradient", (g, w, lam))]
    calls.append(Call("weight_decay_step", (rng.normal(size=10), rng.normal(size=10), lr, lam)))
    return calls


def percentile(values: list[float], fraction: float) -> float:
    """Return the value below which `fraction` of values lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed_runs(sandbox: Sandbox, calls: list[Call], count: int) -> list[float]:
    """Run submissions in turn; return each run's latency in ms."""
    latencies = []
    for i in range(count):
        start = time.perf_counter()
        result = sandbox.run(SUBMISSIONS[i % len(SUBMISSIONS)], calls, Limits())
        latencies.append((time.perf_counter() - start) * 1000)
        assert result.load_outcome == "ok", result
    return latencies


def throughput(sandbox: Sandbox, calls: list[Call], count: int, threads: int) -> float:
    """Return runs per second with `threads` threads sharing the sandbox."""

    def worker() -> None:
        timed_runs(sandbox, calls, count // threads)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return (count // threads * threads) / (time.perf_counter() - start)


def baseline_run(code: str, calls: list[Call]) -> None:
    """Grade one submission in a fresh, namespaced Python process."""
    ours, theirs = socket.socketpair()
    command = [
        "unshare",
        "--fork",
        "--pid",
        "--net",
        "--ipc",
        "--uts",
        "--mount",
        "--user",
        "--map-root-user",
        sys.executable,
        "-I",
        "-B",
        "-c",
        BASELINE_RUNNER,
        SANDBOX_DIR,
        str(theirs.fileno()),
    ]
    env = dict(ZYGOTE_ENV)
    with subprocess.Popen(
        command,
        env=env,
        pass_fds=(theirs.fileno(),),
        cwd="/",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        theirs.close()
        with ours, socket.socketpair()[0] as control:
            request, sent = encode_request(code, calls)
            session = Session(ours, control, calls, sent, time.monotonic() + 30)
            session.exchange(request)
        process.wait()
    assert session.load is not None and session.load[0] == "ok"


def baseline(calls: list[Call], count: int, submissions: list[str] = SUBMISSIONS) -> list[float]:
    """Latencies (ms) of the fresh-process-per-submission baseline, cycling submissions."""
    latencies = []
    for i in range(count):
        start = time.perf_counter()
        baseline_run(submissions[i % len(submissions)], calls)
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def peak_rss_mb(pid: int) -> float:
    """Return a process's peak resident set size in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--baseline-runs", type=int, default=30)
    args = parser.parse_args()
    calls = make_calls()
    sandbox = Sandbox(skip_layers=frozenset())
    started = time.perf_counter()
    sandbox.start()
    start_ms = (time.perf_counter() - started) * 1000
    timed_runs(sandbox, calls, 20)  # warm up
    latencies = timed_runs(sandbox, calls, args.runs)
    rate = throughput(sandbox, calls, args.runs * 2, threads=2)
    zygote_mb = peak_rss_mb(sandbox._process.pid)
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sandbox.close()
    fresh = baseline(calls, args.baseline_runs)
    print(f"sandbox: every layer on, {len(calls)} calls per run, {os.cpu_count()} CPUs")
    print(f"  zygote start (with probe run)   {start_ms:8.1f} ms")
    print(f"  latency per run  median         {statistics.median(latencies):8.1f} ms")
    print(f"                   p99            {percentile(latencies, 0.99):8.1f} ms")
    print(f"  throughput, 2 threads           {rate:8.1f} runs/s")
    print(
        f"  peak RSS  zygote {zygote_mb:.1f} MB + parent {parent_mb:.1f} MB = "
        f"{zygote_mb + parent_mb:.1f} MB"
    )
    print("baseline: fresh python per submission in new namespaces (unshare)")
    print(f"  latency per run  median         {statistics.median(fresh):8.1f} ms")
    print(f"                   p99            {percentile(fresh, 0.99):8.1f} ms")
    ratio = statistics.median(fresh) / statistics.median(latencies)
    print(f"ratio (baseline / sandbox median) {ratio:8.1f}x")


if __name__ == "__main__":
    main()
