"""Registry import throughput: 100,000 salariés from one dropped CSV, into a fresh SQLite
registry, against the database's own floor measured in the same run: SQLite's `executemany`
of the same rows (the salariés, then their rate history) in one transaction, the rows ready
beforehand. The old `pandas.read_csv` of the file is printed too, for scale.

The same on PostgreSQL (a throwaway cluster, as the tests start it): gedflow's import against
`COPY` of the same rows, printed. Last line `ratio=X.XX` = gedflow's whole import on SQLite
(decode, checks, upsert, report) ÷ the write floor (goal ≤ 1.5).
Usage: python benchmarks/registry_import.py [ROWS]
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from stdnum import luhn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_of  # noqa: E402
from gedflow.checks import nir_key  # noqa: E402
from gedflow.db.engine import migrate  # noqa: E402
from gedflow.db.tables import employeur  # noqa: E402
from gedflow.registry.importer import import_csv  # noqa: E402
from schemas.registre import EMPLOYEURS  # noqa: E402

EMPLOYERS = 100
RUNS = 3  # the fastest of each
# Both SQLite registries in memory-backed files where the machine has them: the disk's fsync
# time varies from run to run more than the difference measured.
MEMORY = "/dev/shm" if Path("/dev/shm").is_dir() else None


def _sirets(n: int) -> list[str]:
    return [(body := f"81{i:011d}") + luhn.calc_check_digit(body) for i in range(n)]


def make_files(rows: int) -> tuple[bytes, bytes]:
    """Synthetic employeurs and salariés files (invented people, checksum-valid ids)."""
    rng = np.random.default_rng(42)
    sirets = _sirets(EMPLOYERS)
    emp = pd.DataFrame({c: "" for c in EMPLOYEURS.header}, index=range(EMPLOYERS))
    emp["dossier"], emp["siret"], emp["raison_sociale"] = "BENCH", sirets, "EMPLOYEUR"
    sex = rng.integers(1, 3, rows)
    nir13 = pd.Series(
        [f"{s}{y:02d}{m:02d}{d:02d}{c:03d}{o:03d}" for s, y, m, d, c, o in zip(
            sex, rng.integers(50, 99, rows), rng.integers(1, 13, rows),
            rng.integers(1, 96, rows), rng.integers(1, 999, rows), rng.integers(1, 999, rows),
            strict=True)]
    )
    sal = pd.DataFrame({
        "dossier": "BENCH",
        "siret": np.array(sirets)[np.arange(rows) % EMPLOYERS],
        "matricule": [f"M{i:07d}" for i in range(rows)],
        "nir": nir13 + nir_key(nir13),
        "nom": "NOM" + pd.Series(range(rows)).astype(str),
        "nom_usage": "",
        "prenoms": "PRENOM",
        "sexe": np.where(sex == 1, "M", "F"),
        "date_naissance": "15/06/1980",
        "lieu_naissance": "LYON",
        "dept_naissance": "69",
        "taux_pas": (rng.integers(0, 3000, rows) / 100).round(2).astype(str),
        "type_taux": "01",
    })
    return (emp.to_csv(sep=";", index=False).encode(), sal.to_csv(sep=";", index=False).encode())


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    employeurs, salaries = make_files(rows)
    print(f"file: {rows} salariés, {len(salaries) / 1e6:.1f} MB")

    def plain_read() -> None:
        pd.read_csv(io.BytesIO(salaries), sep=";", dtype=str, keep_default_na=False)

    plain = best_of(3, plain_read)

    def gedflow_import() -> None:
        with tempfile.TemporaryDirectory(dir=MEMORY) as tmp:
            engine = migrate(f"sqlite:///{tmp}/registry.sqlite")
            import_csv(engine, employeurs, "employeurs.csv")
            start = time.perf_counter()
            result = import_csv(engine, salaries, "salaries.csv")
            timings.append(time.perf_counter() - start)
            assert result.imported == rows and result.errors.empty, result.errors.head()
            engine.dispose()

    timings: list[float] = []
    floors = []
    for _ in range(RUNS):  # in turn: a drifting machine biases neither side
        gedflow_import()
        floors.append(write_floor(employeurs, salaries))
    ours, floor = min(timings), min(floors)
    print(f"plain pandas.read_csv : {plain:.3f} s  {rows / plain:,.0f} rows/s (for scale)")
    print(f"SQLite executemany    : {floor:.3f} s  {rows / floor:,.0f} rows/s (salariés + rate "
          "history, one transaction: the floor)")
    print(f"gedflow import        : {ours:.3f} s  {rows / ours:,.0f} rows/s "
          "(decode, check, upsert salariés, rate history, report)")
    pg_ours, pg_floor = postgres(employeurs, salaries, rows)
    print(f"PostgreSQL COPY       : {pg_floor:.3f} s  {rows / pg_floor:,.0f} rows/s (the floor)")
    print(f"gedflow on PostgreSQL : {pg_ours:.3f} s  {rows / pg_ours:,.0f} rows/s "
          f"(ratio {pg_ours / pg_floor:.2f})")
    print(f"ratio={ours / floor:.2f}")


def _people(employeurs: bytes, salaries: bytes, engine) -> tuple[list[tuple], list[tuple]]:  # noqa: ANN001
    """The rows as the floors write them: salariés (employer ids resolved) and their rates
    (salarié ids 1…n, the tables being new)."""
    import_csv(engine, employeurs, "employeurs.csv")
    with engine.connect() as conn:
        ids = dict(conn.execute(employeur.select().with_only_columns(
            employeur.c.siret, employeur.c.id)).all())
    rows = pd.read_csv(io.BytesIO(salaries), sep=";", dtype=str, keep_default_na=False)
    people = list(zip(rows["siret"].map(ids), rows["matricule"], rows["nir"], rows["nom"],
                      rows["nom_usage"], rows["prenoms"], rows["sexe"], ["1980-06-15"] *
                      len(rows), rows["lieu_naissance"], rows["dept_naissance"], strict=True))
    rates = [(i + 1, t, "01", "", "2025-01-01 00:00:00+00")
             for i, t in enumerate(rows["taux_pas"])]
    return people, rates


PEOPLE_COLUMNS = ("employeur_id, matricule, nir, nom, nom_usage, prenoms, sexe, date_naissance, "
                  "lieu_naissance, dept_naissance")
RATE_COLUMNS = "salarie_id, taux_pas, type_taux, source, created_at"


def postgres(employeurs: bytes, salaries: bytes, rows: int) -> tuple[float, float]:
    """(gedflow's import, COPY of the same rows) on a fresh database each."""
    from sqlalchemy import create_engine, text

    from tests.pg import PgCluster

    cluster = PgCluster()
    cluster.start()
    try:
        admin = create_engine(f"{cluster.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in ("ours", "floor"):
                conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        engine = migrate(f"{cluster.url}/ours")
        import_csv(engine, employeurs, "employeurs.csv")
        start = time.perf_counter()
        result = import_csv(engine, salaries, "salaries.csv")
        ours = time.perf_counter() - start
        assert result.imported == rows and result.errors.empty
        engine.dispose()
        engine = migrate(f"{cluster.url}/floor")
        people, rates = _people(employeurs, salaries, engine)
        raw = engine.raw_connection()
        start = time.perf_counter()
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY salarie ({PEOPLE_COLUMNS}) FROM STDIN") as copy:
                for row in people:
                    copy.write_row(row)
            with cursor.copy(f"COPY taux ({RATE_COLUMNS}) FROM STDIN") as copy:
                for row in rates:
                    copy.write_row(row)
        raw.commit()
        floor = time.perf_counter() - start
        raw.close()
        engine.dispose()
        return ours, floor
    finally:
        cluster.remove()


def write_floor(employeurs: bytes, salaries: bytes) -> float:
    """Seconds for the same rows written by the driver's executemany, in one transaction (the
    values prepared before the clock starts, as gedflow's checks would give them)."""
    with tempfile.TemporaryDirectory(dir=MEMORY) as tmp:
        engine = migrate(f"sqlite:///{tmp}/registry.sqlite")
        people, rates = _people(employeurs, salaries, engine)
        raw = engine.raw_connection()
        start = time.perf_counter()
        cursor = raw.cursor()
        cursor.executemany(f"INSERT INTO salarie ({PEOPLE_COLUMNS}) VALUES "
                           "(?,?,?,?,?,?,?,?,?,?)", people)
        cursor.executemany(f"INSERT INTO taux ({RATE_COLUMNS}) VALUES (?,?,?,?,?)", rates)
        raw.commit()
        elapsed = time.perf_counter() - start
        raw.close()
        engine.dispose()
    return elapsed


if __name__ == "__main__":
    main()
