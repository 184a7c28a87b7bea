"""Security promises (docs/threat-model.md): personal data owner-only wherever gedflow writes
or moves it (or the team's group when one is set), CSV cells safe to open in a spreadsheet,
inputs bounded in size."""

from __future__ import annotations

import csv
import grp
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from gedflow.crm.handler import handle_crm
from gedflow.db.engine import migrate
from gedflow.dsn.handler import handle_dsn
from gedflow.formats.csv_table import to_csv_text
from gedflow.inbox import scan
from gedflow.intake import claim, process
from gedflow.registry.importer import handle_registre
from gedflow.settings import Settings, load_settings

from .conftest import EXAMPLES, TESTS, _new_pg_database

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
HANDLERS = {"registre": handle_registre, "crm": handle_crm, "dsn": handle_dsn}


def _drop_examples(settings: Settings, engine: Engine) -> list:
    import shutil

    from flows.cli.common import create_folders

    create_folders(settings)  # as `gedflow init` does
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        target = settings.inbox / "registre" / name
        shutil.copy(EXAMPLES / "registre" / name, target)
        target.chmod(0o644)  # as a user's copy lands
    outcomes = [process(settings, engine, c, HANDLERS[c.kind])
                for p in scan(settings) if (c := claim(settings, engine, p))]
    for rel, source in (("crm_nominatif/travail/2022/2022_08/crm_2022_07.xml",
                         EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml"),
                        ("dsn/ASSO-TILLEULS/dsn_2022_09.dsn", EXAMPLES / "dsn/dsn_2022_09.dsn"),
                        ("crm_nominatif/travail/2022_08/pas_un_crm.xml", None)):
        target = settings.inbox / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes() if source else b"%PDF-1.4")
        target.chmod(0o644)
    outcomes += [process(settings, engine, c, HANDLERS[c.kind])
                 for p in scan(settings) if (c := claim(settings, engine, p))]
    return outcomes


def _loose(root: Path, allowed: int) -> list[str]:
    """Files and folders under the outbox and the state folder with bits beyond `allowed`."""
    found = []
    for top in (root / "outbox", root / ".gedflow"):
        for path in [top, *top.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            limit = allowed | (0o111 & allowed if path.is_dir() else 0)
            if path.is_dir():
                limit = allowed | ((allowed & 0o444) >> 2)
            if mode & ~limit:
                found.append(f"{oct(mode)} {path.relative_to(root)}")
    return found


@SQLITE
def test_everything_written_or_moved_is_owner_only(settings: Settings, engine: Engine) -> None:
    outcomes = _drop_examples(settings, engine)
    assert [o.outcome for o in outcomes].count("quarantined") == 1
    archived = settings.archive / "registre/salaries_exemple.csv"
    assert stat.S_IMODE(archived.stat().st_mode) == 0o600  # it was dropped 0644
    assert _loose(settings.root, 0o600) == []


@SQLITE
def test_a_team_group_may_read(settings: Settings, engine: Engine) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text().replace("[gedflow]\n", f'[gedflow]\ngroupe = "{group}"\n'))
    team = load_settings(settings.root)
    try:
        _drop_examples(team, engine)
        archived = team.archive / "registre/salaries_exemple.csv"
        assert stat.S_IMODE(archived.stat().st_mode) == 0o640
        assert stat.S_IMODE(archived.parent.stat().st_mode) == 0o750
        report = next((team.outbox / "crm_nominatif").rglob("*.rapprochement.csv"))
        assert stat.S_IMODE(report.stat().st_mode) == 0o640
        assert _loose(team.root / "outbox" / "..", 0o640) == []
    finally:
        load_settings(settings.root.parent / "elsewhere")  # back to owner-only
    assert stat.S_IMODE((team.state_dir / "identifiants").stat().st_mode) == 0o700 \
        if (team.state_dir / "identifiants").exists() else True


@SQLITE
def test_a_file_above_the_size_bound_is_not_read(settings: Settings, engine: Engine) -> None:
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + "taille_max_mo = 1\n")
    small = load_settings(settings.root)
    target = small.inbox / "crm_nominatif/travail/2022_08/gros.xml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"<" + b" " * (2 * 1024 * 1024))
    [outcome] = [process(small, engine, c, handle_crm)
                 for p in scan(small) if (c := claim(small, engine, p))]
    assert outcome.outcome == "quarantined" and "Code : taille" in outcome.reason


# --- CSV cells safe in a spreadsheet -----------------------------------------------------------

def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_formula_triggers_are_neutralised_numbers_stay() -> None:
    frame = pd.DataFrame({"nom": ['=HYPERLINK("http://x","clic")', "@SUM(A1)", "+33 1", "\tx",
                                  "DUPONT", "-x"],
                          "montant": ["-12.50", "7.50", "+3", "2022-08-13", "0", "-1"]})
    rows = _cells(to_csv_text(frame))[1:]
    assert [r[0] for r in rows] == ["'=HYPERLINK(\"http://x\",\"clic\")", "'@SUM(A1)", "'+33 1",
                                    "'\tx", "DUPONT", "'-x"]
    assert [r[1] for r in rows] == ["-12.50", "7.50", "+3", "2022-08-13", "0", "-1"]


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=20))
def test_no_cell_starts_a_formula(values: list[str]) -> None:
    clean = [v.replace("\x00", "") or "x" for v in values]
    rows = _cells(to_csv_text(pd.DataFrame({"c": clean})))[1:]
    for original, [cell] in zip(clean, rows, strict=True):
        number = pd.Series([original]).str.fullmatch(r"[+-]?\d+(?:[.,]\d+)?").iloc[0]
        if original[0] in "=+-@\t\r" and not number:
            assert cell == "'" + original
        else:
            assert cell == original


# --- the Prefect API on the network -----------------------------------------------------------

def _outward_address() -> str | None:
    """An address of this machine beyond loopback, if it has one."""
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.254", 9))  # no packet is sent for a UDP connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


@pytest.mark.parametrize(("status", "open_"), [(200, True), (401, False)])
def test_an_api_open_to_the_network_is_reported(status: int, open_: bool) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from flows.server import open_to_network

    address = _outward_address()
    if address is None:
        pytest.skip("no address beyond loopback on this machine")

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

    server = ThreadingHTTPServer(("0.0.0.0", 0), Api)  # noqa: S104 (the point of the test)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        found = open_to_network(f"http://{address}:{port}/api")
        assert bool(found) is open_ and ("PREFECT_SERVER_API_AUTH_STRING" in found) is open_
        assert open_to_network(f"http://127.0.0.1:{port}/api") == ""  # loopback only: fine
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.postgres
def test_postgres_over_verified_tls(postgres_cluster, tmp_path: Path) -> None:
    """`database_url` takes libpq's TLS parameters: with `sslmode=verify-full` and the CA,
    the connection is encrypted and the server's certificate checked; a server whose
    certificate another CA signed is refused."""
    url = _new_pg_database(postgres_cluster.url)
    engine = migrate(f"{url}?sslmode=verify-full&sslrootcert={postgres_cluster.ca}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                            ).scalar() is True
    engine.dispose()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=other", "-keyout", str(tmp_path / "k"), "-out",
                    str(tmp_path / "other.crt")], check=True, capture_output=True)
    with pytest.raises(OperationalError, match="certificate verify failed"):
        migrate(f"{url}?sslmode=verify-full&sslrootcert={tmp_path / 'other.crt'}")


_BOUNDED = """
import resource, sys
limit = {limit} << 20
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
sys.path.insert(0, {root!r})
from pathlib import Path
{imports}
found = {call}
print({count})
"""


def _under_limit(limit_mib: int, imports: str, call: str, count: str,
                 env: dict[str, str] | None = None) -> str:
    """Run a reader in a fresh interpreter whose private memory is capped (RLIMIT_DATA)."""
    root = str(Path(__file__).resolve().parent.parent)
    code = _BOUNDED.format(limit=limit_mib, root=root, imports=imports, call=call, count=count)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_ar_reader_takes_the_memory_of_its_zones_not_of_the_file(tmp_path: Path) -> None:
    """An AR of 400,000 records (396 MB) read under a cap of private memory (500 MiB) below
    the file's size plus the interpreter's: the file is mapped and its zones cut a block at a
    time; loading its bytes whole fails under the same cap."""
    record = (TESTS / "data/dpae/spec_records.dpae.txt").read_bytes().split(b"\n")[0]
    ar = tmp_path / "dpae.txt"
    np.tile(np.frombuffer(record.ljust(989) + b"\n", np.uint8), 400_000).tofile(ar)
    imports = "from gedflow.dpae.ar import read_ar"
    assert _under_limit(500, imports, f"read_ar(Path({str(ar)!r}))", "len(found.records)") \
        == "400000"
    with pytest.raises(AssertionError, match="MemoryError"):
        _under_limit(500, imports, f"read_ar(Path({str(ar)!r}).read_bytes())", "1")


def test_the_dsn_reader_takes_the_memory_of_what_it_reads_not_of_the_file(
        tmp_path: Path) -> None:
    """A DSN of 30,000 individuals whose cotisation blocks (S21.G00.81, not read by gedflow)
    make 400 MB, read under a cap of private memory (350 MiB) below its size: the file is
    mapped, read a piece at a time, and the instances of blocks gedflow does not use are not
    kept; loading its bytes whole fails under the same cap."""
    from .dsn_support import Person, declaration, dsn_bytes, envoi

    people = 30_000
    lines = envoi(declaration([Person(nir="1850769123456", matricule="M001")]))
    first = next(i for i, line in enumerate(lines) if line.startswith("S21.G00.30."))
    last = max(i for i, line in enumerate(lines) if line.startswith("S21.G00.50."))
    cotisations = [f"S21.G00.81.{n},'{v}'" for k in range(200)
                   for n, v in (("001", f"{k % 100:03d}"), ("003", "1000.00"), ("004", "7.50"))]
    person = [*lines[first:last + 1], *cotisations]
    count = first + people * len(person) + 2
    body = envoi(declaration([]), totals=(str(count), "1"))[:first]
    dsn = tmp_path / "lourde.dsn"
    total = envoi([], totals=(str(count), "1"))[-2:]
    dsn.write_bytes(dsn_bytes(body) + dsn_bytes(person) * people + dsn_bytes(total))
    assert dsn.stat().st_size > 380e6
    imports = "from gedflow.formats.dsn import read, read_path"
    found = _under_limit(350, imports, f"read_path(Path({str(dsn)!r}))",
                         "len(found.tables['individu']), len(found.problems)")
    assert found == f"{people} 0"  # every individual, and the S90 totals agree
    with pytest.raises(AssertionError, match="MemoryError"):
        _under_limit(350, imports, f"read(Path({str(dsn)!r}).read_bytes())", "1")


# The allocators' own caches are not what these caps measure: Arrow allocates from the system's
# malloc, and glibc's threshold for mapping large blocks stays fixed (freed blocks go back).
PLAIN_ALLOCATORS = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_MMAP_THRESHOLD_": "1048576"}


def test_the_crm_reader_takes_the_memory_of_its_blocks_not_of_the_file(
        tmp_path: Path) -> None:
    """A CRM of one declaration (one establishment's month) whose 200,000 salariés carry
    elements gedflow does not read, 430 MB, read under a cap of private memory (400 MiB) below
    its size: the declaration is cut between two salariés a block at a time; loading the
    bytes whole fails under the same cap."""
    people = 200_000
    crm = tmp_path / "gros.xml"
    person = (b"<salarie><NIR>179027%07d</NIR><matricule>M%07d</matricule><nom_famille>NOM"
              b"</nom_famille><taux_imposition_PAS>7.50</taux_imposition_PAS><commentaire>"
              + b"x" * 2000 + b"</commentaire></salarie>\n")
    with crm.open("wb") as out:
        out.write(b"<?xml version='1.0' encoding='UTF-8'?>\n<gipmds:rapport xmlns:gipmds="
                  b'"http://www.gip-mds.fr/" type="CRM nominatif"><declaration>'
                  b"<declaration_identification><mois>01072022</mois><SIREN>812345676</SIREN>"
                  b"<nic_affectation>00017</nic_affectation></declaration_identification>"
                  b"<declaration_bilan><etat>OK</etat>")
        for block in range(0, people, 1000):
            out.write(b"".join(person % (k, k) for k in range(block, block + 1000)))
        out.write(b"</declaration_bilan></declaration></gipmds:rapport>\n")
    assert crm.stat().st_size > 420e6
    imports = "from gedflow.formats.crm import read"
    found = _under_limit(400, imports, f"read(Path({str(crm)!r}))",
                         "len(found.salaries), len(found.declarations), found.salaries.iloc[-1]"
                         "['matricule'], found.declarations.iloc[0]['siret']", PLAIN_ALLOCATORS)
    assert found == f"{people} 1 M{people - 1:07d} 81234567600017"
    with pytest.raises(AssertionError, match="MemoryError"):
        _under_limit(400, imports, f"Path({str(crm)!r}).read_bytes()", "1", PLAIN_ALLOCATORS)


_REGISTRY_IMPORT = """
import resource, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from gedflow.db.engine import migrate
from gedflow.formats import csv_table
from gedflow.fsutil import mapped
from gedflow.registry.importer import import_csv
csv_table.BLOCK = {block}
engine = migrate("sqlite:///{tmp}/registre.sqlite")
import_csv(engine, Path({employeurs!r}).read_bytes(), "employeurs.csv")
resource.setrlimit(resource.RLIMIT_DATA, ({limit} << 20, {limit} << 20))
with mapped(Path({salaries!r})) as data:
    result = import_csv(engine, data, "salaries.csv")
print(result.imported, len(result.errors))
"""


def test_the_registry_import_takes_the_memory_of_a_block_not_of_the_file(
        tmp_path: Path) -> None:
    """300,000 salariés imported under a cap of private memory (320 MiB) that the same file
    read as one block exceeds: the file is mapped and imported a block of lines at a time, in
    one transaction. (Arrow's allocator is the system's here: jemalloc reserves address space
    that the cap would count.)"""
    rows = 300_000
    template = (EXAMPLES / "registre/salaries_exemple.csv").read_text().splitlines()
    header, person = template[0], template[1].split(";")
    matricules = pd.Series(range(rows)).map("M{:07d}".format)
    lines = ";".join(person[:2]) + ";" + matricules + ";" + ";".join(person[3:])
    salaries = tmp_path / "salaries.csv"
    salaries.write_text(header + "\n" + "\n".join(lines) + "\n")

    def run(block: int) -> subprocess.CompletedProcess:
        code = _REGISTRY_IMPORT.format(
            root=str(Path(__file__).resolve().parent.parent), block=block, tmp=tmp_path,
            limit=320, employeurs=str(EXAMPLES / "registre/employeurs_exemple.csv"),
            salaries=str(salaries))
        (tmp_path / "registre.sqlite").unlink(missing_ok=True)
        env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300, env=env)

    done = run(1 << 20)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(rows), "0"]
    whole = run(1 << 30)
    assert whole.returncode != 0  # over the cap: a MemoryError, or a library dying of one


def test_a_dropped_bilan_is_streamed(tmp_path: Path) -> None:
    """An XML dropped in `inbox/AR/` as a bilan, 400 MB of elements gedflow does not read,
    read under a 250 MiB cap that a whole parse exceeds: only the verdict's values are kept."""
    bilan = tmp_path / "FLUX0001.xml"
    line = b"<ligne>" + b"x" * 200 + b"</ligne>\n"
    with bilan.open("wb") as out:
        out.write(b'<bilan profil="DPAE"><etat_conformite>OK</etat_conformite>\n')
        for _ in range(100):
            out.write(line * 20_000)
        out.write(b"<certificat_conformite>CERT-1</certificat_conformite></bilan>\n")
    assert bilan.stat().st_size > 400e6
    imports = "from gedflow.formats.dpae_bilan import read\nfrom lxml import etree"
    assert _under_limit(250, imports, f"read(Path({str(bilan)!r}), 'FLUX0001.xml')",
                        "found.etat, found.certificat, found.idflux") == "OK CERT-1 FLUX0001"
    with pytest.raises(AssertionError, match="MemoryError|XMLSyntaxError"):
        _under_limit(250, imports, f"etree.parse({str(bilan)!r})", "1")
