"""Import of `employeurs*.csv` / `salaries*.csv` into the registry: an upsert keyed by
(dossier, siret) and (dossier, siret, matricule), bulk and vectorised (no Python loop per row).

Valid rows are imported even when others are not; invalid rows come back as an error table
(`ligne;colonne;valeur;erreur`) for the `<name>.import.csv` report. A file is imported a block
at a time, in one transaction: memory goes to the block (and 12 bytes a row for the duplicate
check), not to the file.
"""

from __future__ import annotations

import logging
import mmap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, Table, insert, select, text

from gedflow.checks import check_table, parse_dates
from gedflow.db.bulk import bulk_insert, bulk_upsert, db_timestamp
from gedflow.db.tables import dossier, employeur, salarie, taux
from gedflow.errors import InputError
from gedflow.formats.arrowtext import SAMPLE, flat, text_array
from gedflow.formats.csv_table import read_csv_blocks, to_csv_text
from gedflow.fsutil import atomic_write, mapped
from gedflow.handler import HandlerResult, Job
from schemas.registre import EMPLOYEURS, LAYOUTS, CsvLayout

log = logging.getLogger(__name__)


@dataclass
class ImportResult:
    """What an import did: counts and the row errors (empty table when all rows were valid)."""

    layout: str
    rows: int
    imported: int
    errors: pd.DataFrame
    encoding: str
    taux_added: int = 0


def layout_for(name: str) -> CsvLayout:
    """The layout of a dropped file, from its name (`employeurs*.csv` / `salaries*.csv`)."""
    lower = PurePath(name).name.lower()
    for layout in LAYOUTS:
        if lower.startswith(layout.prefix) and lower.endswith(".csv"):
            return layout
    raise InputError(
        f"nom de fichier non reconnu : {PurePath(name).name}",
        code="nom_fichier",
        todo="nommez le fichier employeurs….csv ou salaries….csv",
    )


def _ensure_dossiers(conn: Connection, codes: pd.Series) -> pd.DataFrame:
    """Create the dossiers named in an employeurs file; return code → id."""
    wanted = set(codes.unique())
    existing = pd.DataFrame(
        conn.execute(select(dossier.c.code, dossier.c.id).where(dossier.c.code.in_(wanted))).all(),
        columns=["dossier", "dossier_id"],
    )
    missing = sorted(wanted - set(existing["dossier"]))
    if missing:
        now = datetime.now(UTC)
        conn.execute(insert(dossier), [{"code": c, "created_at": now} for c in missing])
        return _ensure_dossiers(conn, codes)
    return existing


_MIX = np.uint64(0x9E3779B97F4A7C15)  # combines the columns' hashes (odd: no bits lost)


def _key_hashes(clean: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """A 64-bit hash of each row's key: its columns' hashes (`pandas.util.hash_array`, the
    same value whatever the block), mixed. A column whose first rows are distinct (the
    matricule) is hashed as it is, the others once per distinct value (missing: "")."""
    combined = np.zeros(len(clean), dtype=np.uint64)
    for key in keys:
        column = flat(text_array(clean[key]))
        if clean[key].iloc[:SAMPLE].is_unique:
            hashed = pd.util.hash_array(column.to_numpy(zero_copy_only=False), categorize=False)
        else:  # each distinct value hashed (Arrow's dictionary), then taken
            encoded = pc.dictionary_encode(column)
            hashed = pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False),
                                        categorize=False)[encoded.indices.to_numpy()]
        combined = combined * _MIX ^ hashed
    return combined


class _Seen:
    """The keys of the rows already taken from the file (their 64-bit hashes, sorted) and
    the line of each."""

    def __init__(self) -> None:
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.lines = np.zeros(0, dtype=np.int64)

    def dedupe(self, clean: pd.DataFrame, lines: pd.Series, keys: list[str]
               ) -> tuple[pd.Series, list]:
        """Keep the first row of each key in the file; later ones become errors naming the
        first line (the block's keys sorted once, then merged into those seen)."""
        hashes = _key_hashes(clean, keys)
        line = lines.to_numpy(dtype=np.int64)
        order = np.argsort(hashes, kind="stable")  # equal keys: in file order
        ranked = hashes[order]
        leads = np.ones(len(ranked), dtype=bool)  # the first row of each key in the block
        leads[1:] = ranked[1:] != ranked[:-1]
        first = np.empty_like(line)
        first[order] = line[order][np.flatnonzero(leads)][np.cumsum(leads) - 1]
        found = np.searchsorted(self.hashes, hashes)
        earlier = found < len(self.hashes)
        earlier[earlier] = self.hashes[found[earlier]] == hashes[earlier]
        first[earlier] = self.lines[found[earlier]]
        taken = first == line
        kept = order[taken[order]]  # the block's new keys, sorted
        at = np.searchsorted(self.hashes, hashes[kept])
        self.hashes = np.insert(self.hashes, at, hashes[kept])
        self.lines = np.insert(self.lines, at, line[kept])
        dup = pd.Series(~taken, index=clean.index)
        if taken.all():
            return dup, []
        return dup, [pd.DataFrame({
            "ligne": lines[dup],
            "colonne": "/".join(keys),
            "valeur": "",
            "erreur": "doublon de la ligne " + pd.Series(first, index=clean.index)[dup].astype(str),
        })]


def _employeur_ids(conn: Connection, table: pd.DataFrame) -> pd.DataFrame:
    """(dossier, siret) → employeur_id for the pairs present in `table`."""
    codes = set(table["dossier"].unique())
    found = conn.execute(
        select(dossier.c.code, employeur.c.siret, employeur.c.id)
        .join(employeur, employeur.c.dossier_id == dossier.c.id)
        .where(dossier.c.code.in_(codes))
    ).all()
    return pd.DataFrame(found, columns=["dossier", "siret", "employeur_id"])


def _import_employeurs(conn: Connection, clean: pd.DataFrame) -> int:
    ids = _ensure_dossiers(conn, clean["dossier"])
    rows = clean.merge(ids, on="dossier").drop(columns=["dossier"])
    bulk_upsert(conn, employeur, rows, ["dossier_id", "siret"])
    return len(rows)


def _unknown_employer_errors(orphans: pd.DataFrame, lines: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ligne": lines[orphans.index],
            "colonne": "siret",
            "valeur": orphans["siret"],
            "erreur": "employeur inconnu dans le dossier " + orphans["dossier"]
            + " (importez d'abord employeurs….csv)",
        }
    )


PERSON = ["employeur_id", "matricule", "nir", "nom", "nom_usage", "prenoms", "sexe",
          "date_naissance", "lieu_naissance", "dept_naissance"]
# A block's salariés as the file gives them, with their rate (a temporary table, the
# salariés' own column types): the database upserts the salariés from it, then chooses and
# writes the rates to record by a join on the unique key, whatever the size of the registry
# and of the file. The rates are written in the file's order: SQLite's rowid (no sort), the
# row's number `n` on PostgreSQL.
STAGED = Table("import_salarie", MetaData(), Column("n", Integer),
               *(Column(c, salarie.c[c].type) for c in PERSON),
               Column("taux_pas", taux.c.taux_pas.type), Column("type_taux", taux.c.type_taux.type),
               prefixes=["TEMPORARY"])
_UPSERT = (f"INSERT INTO salarie ({', '.join(PERSON)}) SELECT {', '.join(PERSON)} "
           "FROM import_salarie WHERE true ON CONFLICT (employeur_id, matricule) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in PERSON[2:]))
# A rate given (or a type): recorded where it differs from the salarié's latest (or he has none).
_RECORD = """
INSERT INTO taux (salarie_id, taux_pas, type_taux, source, created_at)
SELECT s.id, g.taux_pas, coalesce(g.type_taux, '01'), :source, {created_at}
FROM import_salarie g
JOIN salarie s ON s.employeur_id = g.employeur_id AND s.matricule = g.matricule
LEFT JOIN taux t ON t.id = (SELECT max(r.id) FROM taux r WHERE r.salarie_id = s.id)
WHERE (g.taux_pas IS NOT NULL OR g.type_taux IS NOT NULL)
  AND (t.id IS NULL OR coalesce(t.taux_pas, '') <> coalesce(g.taux_pas, '')
       OR coalesce(t.type_taux, '') <> coalesce(g.type_taux, '01'))
ORDER BY {order}"""


def _import_salaries(
    conn: Connection, clean: pd.DataFrame, lines: pd.Series, source: str
) -> tuple[int, int, list]:
    """Upsert the block's salariés (their keys are distinct: `_Seen`) and record the rates
    that changed: the block staged once, then two statements."""
    ids = _employeur_ids(conn, clean)
    at = pd.MultiIndex.from_frame(ids[["dossier", "siret"]]).get_indexer(
        pd.MultiIndex.from_arrays([clean["dossier"], clean["siret"]]))  # -1: no such employer
    known = at >= 0
    errors = [] if known.all() else [_unknown_employer_errors(clean[~known], lines)]
    rows = clean if known.all() else clean[known]
    if rows.empty:
        return 0, 0, errors
    STAGED.create(conn, checkfirst=True)
    conn.execute(STAGED.delete())
    postgresql = conn.dialect.name == "postgresql"
    numbered = {"n": np.arange(len(rows))} if postgresql else {}
    bulk_insert(conn, STAGED, rows[PERSON[1:]].assign(
        **numbered, employeur_id=ids["employeur_id"].to_numpy(dtype=np.int64)[at[known]],
        date_naissance=parse_dates(rows["date_naissance"]),  # ISO text, None when empty
        taux_pas=rows["taux_pas"].where(rows["taux_pas"] != "", None),
        type_taux=rows["type_taux"].where(rows["type_taux"] != "", None)))
    conn.exec_driver_sql(_UPSERT)
    created_at = "CAST(:created_at AS TIMESTAMP WITH TIME ZONE)" if postgresql else ":created_at"
    added = conn.execute(text(_RECORD.format(created_at=created_at,
                                             order="g.n" if postgresql else "g.rowid")), {
        "source": source, "created_at": db_timestamp(datetime.now(UTC))}).rowcount
    return len(rows), added, errors


def import_csv(engine: Engine, data: bytes | mmap.mmap, name: str) -> ImportResult:
    """Import one dropped registry file (its bytes, or the file mapped), a block at a time in
    one transaction; raises `InputError` only when the file is unusable."""
    layout = layout_for(name)
    seen, all_errors = _Seen(), []
    rows = imported = taux_added = 0
    encoding = ""
    with engine.begin() as conn:
        for table in read_csv_blocks(data, layout.header):
            clean, errors = check_table(table.rows, layout.fields, table.lines)
            valid = clean[~table.lines.isin(errors["ligne"])]
            dup, dup_errors = seen.dedupe(valid, table.lines[valid.index], list(layout.key))
            valid = valid[~dup]
            all_errors += [table.bad, errors, *dup_errors]
            if layout is EMPLOYEURS:
                imported += _import_employeurs(conn, valid)
            else:
                done, added, missing = _import_salaries(conn, valid, table.lines,
                                                        PurePath(name).name)
                imported += done
                taux_added += added
                all_errors += missing
            rows += len(table.rows) + len(table.bad)
            encoding = table.encoding
    report = pd.concat([e for e in all_errors if len(e)] or all_errors[:1])
    report = report.sort_values(["ligne", "colonne"], kind="stable").reset_index(drop=True)
    log.info("%s: %d rows, %d imported, %d errors", layout.name, rows, imported, len(report))
    return ImportResult(layout=layout.name, rows=rows, imported=imported, errors=report,
                        encoding=encoding, taux_added=taux_added)


def report_path_for(archive_path: Path) -> Path:
    """`outbox/archive/registre/salaries.csv` → `outbox/archive/registre/salaries.import.csv`."""
    return archive_path.with_name(archive_path.stem + ".import.csv")


def handle_registre(job: Job) -> HandlerResult:
    """Intake handler for `inbox/registre/`: import, then write the row-by-row report."""
    with mapped(job.claim.path) as data:
        result = import_csv(job.engine, data, job.claim.rel)
    report = atomic_write(
        report_path_for(job.archive_path), to_csv_text(result.errors)
    )
    return HandlerResult(
        report_path=report,
        summary={
            "format": result.layout,
            "lignes": result.rows,
            "importees": result.imported,
            "erreurs": len(result.errors),
            "taux_ajoutes": result.taux_added,
        },
    )
