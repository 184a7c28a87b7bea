"""DSN controls: `gedflow dsn controle` on a monthly DSN of 100,000 individuals (the file of
benchmarks/dsn.py) against a registry holding their CRM rates (one employer, every salarié
with the rate the DSN applies, so every versement is controlled through to CONFORME), against
`pyarrow.csv.read_csv` of the same file as two columns (the reading floor), measured in the
same run. The control reads the file, loads the registry, controls every versement, the
declaration and the hires, and writes the three reports. Each measurement runs in a fresh
process; its time and peak memory are printed. The registry is read as the command reads it:
from its columnar copies (`gedflow.registry.snapshot`), built by the first run (printed
apart), then read while the DSN is.

The fastest of each is printed, and control ÷ floor per turn (each control run just after a
floor run). Last line `ratio=X.XX` = the median of those per-turn ratios (goal ≤ 4; peak
< 2 GiB): the machine is slowed in bursts, and the fastest 0.2 s floor run and the fastest
0.6 s control run can come from different moments.
Usage: python benchmarks/dsn_controle.py [INDIVIDUALS]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import in_child, in_turn, paired_ratio  # noqa: E402

RUNS = 7  # in turn: this machine is noisy
SIRET = "81234567600017"  # the test writer's establishment


def make_registry(count: int, url: str) -> None:
    """The employer, its salariés (the file's NIRs and matricules) and the CRM rate each was
    communicated (7.50, available before the date of versement)."""
    from datetime import UTC, datetime

    import numpy as np
    import pandas as pd

    from benchmarks.dsn import _nirs
    from gedflow.checks import nir_key
    from gedflow.db.bulk import bulk_insert
    from gedflow.db.engine import migrate
    from gedflow.db.tables import dossier, employeur, salarie, taux_communique

    engine = migrate(url)
    now = datetime.now(UTC).isoformat(sep=" ")
    ids = pd.Series(np.arange(count))
    nir13 = pd.Series(_nirs(count))
    with engine.begin() as conn:
        bulk_insert(conn, dossier, pd.DataFrame({"id": [1], "code": ["BENCH"],
                                                 "created_at": [now]}))
        bulk_insert(conn, employeur, pd.DataFrame({"id": [1], "dossier_id": [1],
                                                   "siret": [SIRET], "raison_sociale": ["B"]}))
        bulk_insert(conn, salarie, pd.DataFrame({
            "id": ids + 1, "employeur_id": 1, "matricule": "M" + ids.astype(str).str.zfill(7),
            "nir": nir13 + nir_key(nir13), "nom": "NOM" + ids.astype(str).str.zfill(7)}))
        bulk_insert(conn, taux_communique, pd.DataFrame({
            "salarie_id": ids + 1, "identifiant_crm": "900000000000001234", "taux": "7.50",
            "date_disponibilite": "2026-02-10", "valide_jusqu_au": "2026-04-30"}))
    engine.dispose()


def _child(what: str, path: str) -> None:
    """One measurement in this fresh process, importing what it measures only (before the
    clock starts): seconds and peak RSS."""
    folder = Path(path).parent
    url = f"sqlite:///{folder / 'registre.sqlite'}"
    if what.startswith("make:"):
        from benchmarks.dsn import make_file

        lines = make_file(int(what[5:]), Path(path))
        make_registry(int(what[5:]), url)
        print(json.dumps({"lines": lines}))
        return
    if what == "floor":
        import pyarrow.csv as pa_csv

        start = time.perf_counter()
        pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(column_names=["r", "v"]),
                        parse_options=pa_csv.ParseOptions(delimiter=",", quote_char="'"))
        found = {}
    else:
        from gedflow.db.engine import migrate
        from gedflow.dsn import controle, report
        from gedflow.dsn.registre import read_with_registry

        engine = migrate(url)
        start = time.perf_counter()
        seen, registre = read_with_registry(Path(path), engine, folder / "cache")
        pas, hires = controle.controls(seen, registre)
        report.write(pas, hires, folder / "rapports", "dsn", "benchmark")
        found = pas["code"].value_counts().to_dict()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "codes": found}))


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dsn.txt"
        lines = in_child(__file__, f"make:{count}", path)["lines"]
        print(f"DSN: {count:,} individuals, {lines:,} lines, {path.stat().st_size / 1e6:.0f} MB; "
              f"registry: {count:,} salariés with their CRM rate")
        cold = in_child(__file__, "controle", path)
        floors, controls = in_turn(RUNS, __file__, ["floor", "controle"], path)
        floor, control = (min(runs, key=lambda m: m["seconds"]) for runs in (floors, controls))
        assert cold["codes"] == control["codes"] == {"CONFORME": count}, control["codes"]
        print(f"floor  pyarrow.csv.read_csv (2 columns): {floor['seconds']:.2f} s, "
              f"peak {floor['peak_mib']:.0f} MiB")
        print(f"gedflow dsn controle (read, registry, PAS, DGFiP, hires, reports): "
              f"{control['seconds']:.2f} s ({count / control['seconds']:,.0f} individuals/s), "
              f"peak {control['peak_mib']:.0f} MiB")
        print(f"first run, the registry's copies built from the tables: {cold['seconds']:.2f} s")
        print("per turn, control ÷ the floor run just before: " + ", ".join(
            f"{c['seconds'] / f['seconds']:.2f}" for f, c in zip(floors, controls, strict=True)))
        print(f"fastest ÷ fastest: {control['seconds'] / floor['seconds']:.2f}")
        print(f"ratio={paired_ratio(controls, floors):.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
