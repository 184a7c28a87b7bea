"""DSN reading: a monthly DSN of 100,000 individuals (one S21.G00.30/40/50/51 each, ~40
rubrics per person) read as `gedflow dsn lire` reads it (every line checked, the blocks
attached, the tables built) against `pyarrow.csv.read_csv` of the same file as two columns (the
reading floor), measured in the same run; then fed into a fresh SQLite registry. Each
measurement runs in a fresh process; its time and peak memory are printed.

Last line `ratio=X.XX` = read ÷ floor (goal ≤ 3; peak < 2 GiB).
Usage: python benchmarks/dsn.py [INDIVIDUALS]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import fastest_children, in_child  # noqa: E402

RUNS = 5  # the fastest of each: this machine is noisy


def _nirs(count: int) -> np.ndarray:
    base = 1_850_775_000_000 + np.arange(count, dtype=np.int64)
    return base.astype(str)


def make_file(count: int, path: Path) -> int:
    """A valid DSN of `count` individuals (invented), written with numpy: the line count."""
    from tests.dsn_support import declaration, envoi  # the test writer, for the frame

    template = envoi(declaration([], pas_total=f"{150 * count}.00"))  # every PAS is 150.00
    head, tail = template[:-2], template[-2:]
    ids = np.char.zfill(np.arange(count).astype(str), 7)
    person = [
        ("S21.G00.30.001", _nirs(count)), ("S21.G00.30.002", np.char.add("NOM", ids)),
        ("S21.G00.30.004", "PRENOM"), ("S21.G00.30.005", "01"),
        ("S21.G00.30.006", "12071985"), ("S21.G00.30.007", "PARIS"),
        ("S21.G00.30.008", "12 RUE DES LILAS"), ("S21.G00.30.009", "75011"),
        ("S21.G00.30.010", "PARIS"), ("S21.G00.30.014", "75"),
        ("S21.G00.30.019", np.char.add("M", ids)),
        ("S21.G00.40.001", "01092019"), ("S21.G00.40.002", "04"), ("S21.G00.40.003", "01"),
        ("S21.G00.40.006", "EMPLOYE"), ("S21.G00.40.007", "01"), ("S21.G00.40.008", "99"),
        ("S21.G00.40.009", "00001"), ("S21.G00.40.010", "31122026"),
        ("S21.G00.40.019", "81234567600017"), ("S21.G00.40.020", "10"),
        ("S21.G00.40.024", "01"), ("S21.G00.40.025", "02"), ("S21.G00.40.026", "1"),
        ("S21.G00.50.001", "31032026"), ("S21.G00.50.002", "2000.00"),
        ("S21.G00.50.003", "01"), ("S21.G00.50.004", "1850.00"), ("S21.G00.50.006", "7.50"),
        ("S21.G00.50.007", "01"), ("S21.G00.50.008", "900000000000001234"),
        ("S21.G00.50.009", "150.00"), ("S21.G00.50.013", "2000.00"),
        ("S21.G00.51.001", "01032026"), ("S21.G00.51.002", "31032026"),
        ("S21.G00.51.010", "00001"), ("S21.G00.51.011", "001"),
        ("S21.G00.51.013", "2500.00"), ("S21.G00.51.012", "151.67"),
        ("S21.G00.51.019", "0.00"),
    ]
    columns = [np.char.add(f"{code},'", np.char.add(np.broadcast_to(value, count), "'"))
               for code, value in person]
    body = np.stack(columns, axis=1).ravel()
    total = len(head) + len(body) + 2
    lines = [*head, *body.tolist(), f"S90.G00.90.001,'{total}'", "S90.G00.90.002,'1'"]
    del tail
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return total


def _child(what: str, path: str) -> None:
    """One measurement in this fresh process, importing what it measures only (before the
    clock starts): seconds and peak RSS."""
    if what.startswith("make:"):  # the file, written by a process of its own: the others
        print(json.dumps({"lines": make_file(int(what[5:]), Path(path))}))  # start small
        return
    if what == "floor":
        import pyarrow.csv as pa_csv

        start = time.perf_counter()
        pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(column_names=["r", "v"]),
                        parse_options=pa_csv.ParseOptions(delimiter=",", quote_char="'"))
    elif what == "read":
        from gedflow.dsn.read import view
        from gedflow.formats import dsn

        start = time.perf_counter()
        read = dsn.read_path(Path(path))
        view(read)
        assert read.problems.empty, read.problems.head()
    else:
        from sqlalchemy import func, select

        from gedflow.db.engine import migrate
        from gedflow.db.tables import versement_pas
        from gedflow.dsn.feed import feed
        from gedflow.dsn.read import view
        from gedflow.formats import dsn

        engine = migrate(f"sqlite:///{Path(path).parent / 'registre.sqlite'}")
        start = time.perf_counter()
        seen = view(dsn.read_path(Path(path)))
        with engine.begin() as conn:
            feed(conn, seen, "BENCH", "0" * 64, "benchmark")
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(versement_pas)).scalar() \
                == len(seen.versements)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak}))


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dsn.txt"
        lines = in_child(__file__, f"make:{count}", path)["lines"]
        size = path.stat().st_size / 1e6
        print(f"DSN: {count:,} individuals, {lines:,} lines, {size:.0f} MB")
        floor, read = fastest_children(RUNS, __file__, ["floor", "read"], path)
        fed = in_child(__file__, "feed", path)
        print(f"floor  pyarrow.csv.read_csv (2 columns): {floor['seconds']:.2f} s, "
              f"peak {floor['peak_mib']:.0f} MiB")
        print(f"gedflow dsn lire (read, check, attach): {read['seconds']:.2f} s "
              f"({count / read['seconds']:,.0f} individuals/s), peak {read['peak_mib']:.0f} MiB")
        print(f"gedflow feed into a fresh SQLite registry (read + feed): {fed['seconds']:.2f} s, "
              f"peak {fed['peak_mib']:.0f} MiB")
        print(f"ratio={read['seconds'] / floor['seconds']:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
