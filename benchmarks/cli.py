"""Command-line start-up: `gedflow --help` and each read-only command (status, registry show,
crm taux, dpae phase, dpae suivi, keys list, credentials list, offline status) on a root with
the example registry, each the median of 5 fresh processes, against `python -c "import
prefect"` measured in the same run.

Last line `ratio=X.XX` = the slowest command ÷ the Prefect import (goal ≤ 0.35).
Usage: python benchmarks/cli.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUNS = 5
ROOT_DIR = Path(__file__).resolve().parent.parent
COMMANDS = [
    ["--help"], ["status"], ["registry", "show"], ["crm", "taux", "--siret", "81234567600017"],
    ["dpae", "phase", "--dossier", "ASSO-TILLEULS"], ["dpae", "suivi"], ["keys", "list"],
    ["credentials", "list"], ["offline", "status"],
]


def _median(argv: list[str], env: dict[str, str]) -> float:
    subprocess.run(argv, env=env, cwd=ROOT_DIR, capture_output=True, check=False)  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, env=env, cwd=ROOT_DIR, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    from gedflow.db.engine import migrate
    from gedflow.registry.importer import import_csv
    from gedflow.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GEDFLOW_"))}
        # As installed: Python keeps the bytecode it compiles (this machine's environment says
        # not to, which would time the compilation of gedflow's own modules on every run).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(GEDFLOW_ROOT=tmp, GEDFLOW_SERVICE_PORT="9")  # no server: status says ✗
        settings = load_settings(Path(tmp))
        engine = migrate(settings.registry_url)
        for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
            import_csv(engine, (ROOT_DIR / "examples/registre" / name).read_bytes(), name)
        prefect = _median([sys.executable, "-c", "import prefect"], env)
        print(f"python -c 'import prefect': {prefect:.2f} s")
        slowest = 0.0
        for args in COMMANDS:
            seconds = _median([sys.executable, "-m", "flows.cli", *args], env)
            slowest = max(slowest, seconds)
            print(f"gedflow {' '.join(args):45s} {seconds:.2f} s")
        print(f"ratio={slowest / prefect:.2f}")


if __name__ == "__main__":
    main()
