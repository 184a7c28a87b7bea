"""Columnar copies of the registry for the hot paths (the CRM's registry load, the DSN
controls): reading a million salariés and their rates out of SQLite costs seconds, an Arrow
file tens of milliseconds.

The registry's copy holds every salarié (with the SIRET of the employer) and every rate (id,
salarié, rate, date d'effet); the copy of the communicated rates holds every `taux_communique`
row. A copy stands for the registry while the registry's version is the one it was built at:
triggers bump that version on every change except new rates and a rate's validity (migrations
0008, 0016). Rows added since the copy are read from the database (ids above the copy's
highest) and counted, so a row committed out of id order is never missed: the copy is rebuilt
instead. A copy is read on a connection outside any write (it must hold committed rows only).
The files hold personal data: they are owner-only, like the reports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, func, select, text

from gedflow.checks import nir_numbers
from gedflow.db.bulk import read_frame
from gedflow.db.tables import employeur, registre_version, salarie, taux, taux_communique
from gedflow.fsutil import atomic_write

IDENTITIES = ["salarie_id", "siret", "matricule", "nir", "nom", "prenoms", "date_naissance"]
KEYED = [*IDENTITIES, "nir_cle"]  # nir_cle: `checks.nir_numbers`, computed once at build
RATES = ["taux_id", "salarie_id", "taux_registre", "date_effet"]
COMMUNICATED = ["id", "salarie_id", "identifiant_crm", "taux", "date_disponibilite",
                "date_effet", "valide_jusqu_au"]
REWRITE_AFTER = 10_000  # rates read from the database before the file is written again


@dataclass
class Snapshot:
    version: int
    identities: pd.DataFrame
    rates: pd.DataFrame


def location(cache: Path, conn: Connection, kind: str = "registre") -> Path:
    """A copy's file for this database (its URL without the password, hashed)."""
    url = conn.engine.url.render_as_string(hide_password=True)
    return cache / f"{kind}-{hashlib.sha256(url.encode()).hexdigest()[:16]}.arrow"


def _version(conn: Connection) -> int:
    """The registry's version; on PostgreSQL, the next change of this transaction bumps it
    again (migration 0015 bumps once per transaction)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config('gedflow.registre_modifie', '', true)"))
    return int(conn.execute(select(registre_version.c.version)).scalar_one())


def _identities(conn: Connection) -> pd.DataFrame:
    frame = read_frame(conn, select(
        salarie.c.id, employeur.c.siret, salarie.c.matricule, salarie.c.nir, salarie.c.nom,
        salarie.c.prenoms, salarie.c.date_naissance,
    ).join(employeur, employeur.c.id == salarie.c.employeur_id), IDENTITIES)
    frame = frame.astype({c: "str" for c in IDENTITIES if c != "salarie_id"})
    return frame.assign(nir_cle=nir_numbers(pa.array(frame["nir"].array)))


def _rates(conn: Connection, after: int) -> pd.DataFrame:
    frame = read_frame(conn, select(taux.c.id, taux.c.salarie_id, taux.c.taux_pas,
                                    taux.c.date_effet).where(taux.c.id > after)
                       .order_by(taux.c.id), RATES)  # the copy's rates stay in id order
    # SQLite gives ISO text, PostgreSQL dates: both become ISO text (None stays missing).
    return frame.astype({"date_effet": "str", "taux_registre": "str"})


def _communicated(conn: Connection, after: int) -> pd.DataFrame:
    frame = read_frame(conn, select(*(taux_communique.c[c] for c in COMMUNICATED))
                       .where(taux_communique.c.id > after).order_by(taux_communique.c.id),
                       COMMUNICATED)
    return frame.astype({c: "str" for c in COMMUNICATED if c not in ("id", "salarie_id")})


def _topped_up(conn: Connection, rows: pd.DataFrame, key: str, read_after, table
               ) -> tuple[pd.DataFrame, int] | None:
    """A copy's `rows` with the rows added since (ids above its highest `key`) and how many
    were added; None when the count says one was committed below that highest id."""
    newer = read_after(conn, int(rows[key].max()) if len(rows) else 0)
    count = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    if len(rows) + len(newer) != count:
        return None
    return (pd.concat([rows, newer], ignore_index=True) if len(newer) else rows), len(newer)


def _table(path: Path) -> pa.Table | None:
    try:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all()
    except (OSError, pa.ArrowInvalid):  # missing or unreadable: rebuilt
        return None


def _save(path: Path, frame: pd.DataFrame, metadata: dict[str, str]) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    atomic_write(path, sink.getvalue().to_pybytes())


def _read(path: Path) -> Snapshot | None:
    table = _table(path)
    if table is None:
        return None
    meta = table.schema.metadata or {}
    if b"identities" not in meta or not set(KEYED) <= set(table.column_names):
        return None  # written by another version of gedflow: rebuilt
    people = int(meta[b"identities"])
    identities = table.slice(0, people).select(KEYED).to_pandas()
    rates = table.slice(people).select(RATES).to_pandas()
    return Snapshot(int(meta[b"version"]),
                    identities.astype({"salarie_id": "int64", "nir_cle": "int64"}),
                    rates.astype({"taux_id": "int64", "salarie_id": "int64"}))


def _write(path: Path, snapshot: Snapshot) -> None:
    """One Arrow file: identity rows, then rate rows (the other side's columns null)."""
    _save(path, pd.concat([snapshot.identities, snapshot.rates], ignore_index=True),
          {"version": str(snapshot.version), "identities": str(len(snapshot.identities))})


def current(conn: Connection, cache: Path) -> Snapshot:
    """The registry's salariés and rates, from the copy when it is still the registry's."""
    path = location(cache, conn)
    version = _version(conn)  # read first: a copy is never labelled newer than its data
    snapshot = _read(path)
    if snapshot is not None and snapshot.version == version:
        topped = _topped_up(conn, snapshot.rates, "taux_id", _rates, taux)
        if topped is not None:
            snapshot.rates, added = topped
            if added >= REWRITE_AFTER:
                _write(path, snapshot)
            return snapshot
    snapshot = Snapshot(version, _identities(conn), _rates(conn, 0))
    _write(path, snapshot)
    return snapshot


def communicated(conn: Connection, cache: Path) -> pd.DataFrame:
    """Every rate the CRMs communicated (`COMMUNICATED`, dates as ISO text), from the copy
    when it is still the registry's."""
    path = location(cache, conn, "communiques")
    version = _version(conn)
    table = _table(path)
    meta = (table.schema.metadata or {}) if table is not None else {}
    if (meta.get(b"version") == str(version).encode()
            and table.column_names == COMMUNICATED):
        rows = table.to_pandas().astype({"id": "int64", "salarie_id": "int64"})
        topped = _topped_up(conn, rows, "id", _communicated, taux_communique)
        if topped is not None:
            if topped[1] >= REWRITE_AFTER:
                _save(path, topped[0], {"version": str(version)})
            return topped[0]
    rows = _communicated(conn, 0)
    _save(path, rows, {"version": str(version)})
    return rows
