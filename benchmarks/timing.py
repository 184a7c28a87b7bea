"""Timing shared by the benchmark scripts."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """The shortest of `runs` wall-clock timings of `fn()`, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def in_child(script: str, what: str, path: Path) -> dict:
    """`script --child what path` run in a fresh interpreter: the JSON it printed last."""
    out = subprocess.run([sys.executable, script, "--child", what, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def fastest_child(runs: int, script: str, what: str, path: Path) -> dict:
    """The fastest of `runs` such measurements (by their "seconds")."""
    return min((in_child(script, what, path) for _ in range(runs)), key=lambda m: m["seconds"])


def in_turn(runs: int, script: str, whats: list[str], path: Path) -> list[list[dict]]:
    """`runs` measurements of each of `whats`, taken in turn (a, b, a, b…): on a machine whose
    speed drifts, a baseline and what it is compared with see the same moments."""
    found: list[list[dict]] = [[] for _ in whats]
    for _ in range(runs):
        for mine, what in zip(found, whats, strict=True):
            mine.append(in_child(script, what, path))
    return found


def fastest_children(runs: int, script: str, whats: list[str], path: Path) -> list[dict]:
    """`fastest_child` of each of `whats`, their runs taken in turn (`in_turn`)."""
    return [min(mine, key=lambda m: m["seconds"]) for mine in in_turn(runs, script, whats, path)]


def paired_ratio(ours: list[dict], baseline: list[dict]) -> float:
    """The median over the turns of ours ÷ the baseline measured just before it. On a machine
    slowed in bursts the two fastest runs can come from different moments, and a short
    baseline catches a quiet moment more often than a longer run does."""
    return statistics.median(o["seconds"] / b["seconds"] for o, b in zip(ours, baseline,
                                                                          strict=True))
