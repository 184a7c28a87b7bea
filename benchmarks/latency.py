"""Drop-to-report latency and burst throughput through the running service, against the same
work called directly (claim + handler, no Prefect, no watcher) measured in the same run.

1. direct: N single registry files, each claimed and imported by a direct call; then a burst
   of B files the same way;
2. service: `gedflow serve` (its own Prefect server) in a fresh root; N single files dropped one
   at a time, each timed from the drop to its report; then a burst of B files dropped at once;
3. one-off `gedflow run` on one file: cold (fresh root, no server: it starts the local server
   and gedflow's background process, flows/runner.py) and warm (both running: the run is the
   background process's).

Overhead per file = service latency − settle delay − direct time. Prints median and p95, where
the direct handling of a small file goes (claim, import, database commits, report, archive
move), the throughputs with the burst ratio (service ÷ direct, target ≤ 2), `python -c "import
prefect"` measured in the same run, and last `ratio=X.XX` = the warm `gedflow run` ÷ that import
(target ≤ 1.5).   Usage: python benchmarks/latency.py [SINGLES] [BURST]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))

from gedflow.db.engine import migrate  # noqa: E402
from gedflow.inbox import scan  # noqa: E402
from gedflow.intake import claim, process  # noqa: E402
from gedflow.registry.importer import handle_registre, import_csv  # noqa: E402
from gedflow.settings import load_settings  # noqa: E402

SETTLE = 0.2
EMPLOYEURS = (CHECKOUT / "examples/registre/employeurs_exemple.csv").read_text(encoding="utf-8")


def _content(i: int) -> bytes:
    return EMPLOYEURS.replace("ATELIER DU CANAL", f"ATELIER DU CANAL {i}").encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _root(port: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="gedflow-latency-"))
    (root / "gedflow.toml").write_text(
        f"[gedflow]\nsettle_seconds = {SETTLE}\n[service]\nport = {port}\n", encoding="utf-8")
    (root / "inbox/registre").mkdir(parents=True)
    (root / "staging").mkdir()
    return root


def _drop(root: Path, name: str, data: bytes) -> float:
    """Write beside the inbox, rename in (the file appears whole); the drop time."""
    staging = root / "staging" / name
    staging.write_bytes(data)
    staging.rename(root / "inbox/registre" / name)
    return time.perf_counter()


def _report(root: Path, name: str) -> Path:
    return root / "outbox/archive/registre" / (Path(name).stem + ".import.csv")


def _direct(root: Path, names: list[str]) -> float:
    """Claim and import the files now in the inbox by direct calls; seconds taken."""
    settings = load_settings(root)
    engine = migrate(settings.registry_url)
    start = time.perf_counter()
    for pending in scan(settings, now=time.time() + 3600):  # all complete: no settle wait
        if (c := claim(settings, engine, pending)) is not None:
            process(settings, engine, c, handle_registre)
    elapsed = time.perf_counter() - start
    assert all(_report(root, n).exists() for n in names)
    return elapsed


def _seed(root: Path) -> None:
    settings = load_settings(root)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    import_csv(migrate(settings.registry_url), EMPLOYEURS.encode(), "employeurs_exemple.csv")


# Where one file's direct handling goes: (label, function as cProfile names it).
PARTS = [
    ("claim (ledger row, rename)", ("intake.py", "claim")),
    ("import (read, check, upsert)", ("importer.py", "import_csv")),
    ("  of which reading the CSV", ("csv_table.py", "_parse")),
    ("  of which checks", ("checks.py", "check_table")),
    ("  of which upserts", ("bulk.py", "bulk_upsert")),
    ("  of which the rate history", ("importer.py", "_record_taux")),
    ("database commits", ("~", "<method 'commit' of 'sqlite3.Connection' objects>")),
    ("report writing", ("fsutil.py", "atomic_write")),
    ("archive move, ledger done", ("intake.py", "_finish")),
]


def _parts(profile: cProfile.Profile, files: int) -> list[tuple[str, float]]:
    """Each part's time per file, from the profile of the single files' direct handling."""
    stats = pstats.Stats(profile).stats
    found = []
    for label, (where, name) in PARTS:
        seconds = sum(v[3] for (path, _line, func), v in stats.items()
                      if func == name and path.endswith(where))
        found.append((label, seconds / files))
    return found


def direct_run(singles: int, burst: int) -> tuple[list[float], float, list[tuple[str, float]]]:
    root = _root(_free_port())
    _seed(root)
    one = []
    profile = cProfile.Profile()
    for i in range(singles):
        name = f"employeurs_s{i}.csv"
        _drop(root, name, _content(i))
        one.append(_direct(root, [name]))
    for i in range(singles):  # the same again, profiled (the timings above are not)
        name = f"employeurs_p{i}.csv"
        _drop(root, name, _content(50_000 + i))
        profile.enable()
        _direct(root, [name])
        profile.disable()
    names = [f"employeurs_b{i:05}.csv" for i in range(burst)]
    for i, name in enumerate(names):
        _drop(root, name, _content(100_000 + i))
    return one, _direct(root, names), _parts(profile, singles)


def _wait(path: Path, timeout: float = 600) -> float:
    deadline = time.perf_counter() + timeout
    while not path.exists():
        if time.perf_counter() > deadline:
            raise TimeoutError(path)
        time.sleep(0.005)
    return time.perf_counter()


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GEDFLOW_"))}
    return {**env, "GEDFLOW_ROOT": str(root)}


def service_run(singles: int, burst: int) -> tuple[list[float], float]:
    root = _root(_free_port())
    _seed(root)
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve"], env=_env(root),
                            cwd=CHECKOUT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(root / ".gedflow/watcher.json", 300)
        warm = "employeurs_warmup.csv"  # the first flow run of a process pays its imports
        _drop(root, warm, _content(-1))
        _wait(_report(root, warm))
        latencies = []
        for i in range(singles):
            name = f"employeurs_s{i}.csv"
            dropped = _drop(root, name, _content(i))
            latencies.append(_wait(_report(root, name)) - dropped)
        names = [f"employeurs_b{i:05}.csv" for i in range(burst)]
        start = time.perf_counter()
        for i, name in enumerate(names):
            _drop(root, name, _content(100_000 + i))
        for name in names:
            _wait(_report(root, name))
        return latencies, time.perf_counter() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def one_off_runs() -> tuple[float, float]:
    """`gedflow run` on one file: cold (fresh root, no server), then warm (the server and the
    background process the cold run started)."""
    root = _root(_free_port())
    env = _env(root)
    cli = [sys.executable, "-m", "flows.cli"]
    subprocess.run([*cli, "init"], env=env, cwd=CHECKOUT, check=True, capture_output=True)
    _seed(root)
    times = []
    try:
        for i in range(2):
            _drop(root, f"employeurs_r{i}.csv", _content(i))
            time.sleep(SETTLE)
            start = time.perf_counter()
            subprocess.run([*cli, "run"], env=env, cwd=CHECKOUT, check=True,
                           capture_output=True)
            times.append(time.perf_counter() - start)
    finally:
        subprocess.run([*cli, "server", "stop"], env=env, cwd=CHECKOUT, capture_output=True)
    return times[0], times[1]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    singles = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    burst = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    direct_one, direct_burst, parts = direct_run(singles, burst)
    service_one, service_burst = service_run(singles, burst)
    base = statistics.median(direct_one)
    overhead = [t - SETTLE - base for t in service_one]
    print(f"single file, direct call: median {base * 1000:.0f} ms; per file, profiled (cProfile "
          "slows the Python parts):")
    for label, seconds in parts:
        print(f"  {label:30s} {seconds * 1000:6.1f} ms")
    print(f"single file through the service: drop→report median "
          f"{statistics.median(service_one):.2f} s, p95 {_p95(service_one):.2f} s "
          f"(settle delay {SETTLE} s)")
    print(f"service + watcher overhead per file: median {statistics.median(overhead):.2f} s, "
          f"p95 {_p95(overhead):.2f} s (target < 1 s)")
    print(f"burst of {burst}: direct {direct_burst:.1f} s ({burst / direct_burst:.0f} files/s), "
          f"service {service_burst:.1f} s ({burst / service_burst:.0f} files/s)")
    print(f"burst ratio (service ÷ direct): {service_burst / direct_burst:.2f} (target ≤ 2)")
    cold, warm = one_off_runs()
    prefect = statistics.median(_import_prefect() for _ in range(3))
    print(f"gedflow run, one file: cold {cold:.1f} s (starts the local server and the background "
          f"process), warm {warm:.1f} s; "
          f"python -c 'import prefect' {prefect:.2f} s (target: warm ≤ 1.5 × that)")
    print(f"ratio={warm / prefect:.2f}")


def _import_prefect() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import prefect"], env=_env(CHECKOUT), check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
