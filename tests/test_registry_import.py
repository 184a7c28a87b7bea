"""Registry import from dropped CSV files, on SQLite and PostgreSQL."""

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from gedflow.db.tables import dossier, employeur, salarie, taux
from gedflow.errors import InputError
from gedflow.formats.csv_table import read_csv_blocks, read_csv_table, to_csv_text
from gedflow.inbox import import_order
from gedflow.registry.importer import import_csv, layout_for
from schemas.registre import EMPLOYEURS, SALARIES

from .conftest import EXAMPLES
from .golden import assert_golden

EMP_HEADER = ";".join(EMPLOYEURS.header)
SAL_HEADER = ";".join(SALARIES.header)
EMP = (f"{EMP_HEADER}\n"
       "D1;81234567600017;LES TILLEULS;8899B;1 RUE A;;69003;LYON;04 72 00 00 01;697;MT348;"
       "a@x.example\n")
SAL_ROW = "D1;81234567600017;{mat};{nir};{nom};;Marie;F;12/03/1985;PARIS;75;{taux};{type}\n"


def _sal(*rows: dict) -> str:
    defaults = {"mat": "A001", "nir": "285037511203464", "nom": "DUPONT", "taux": "", "type": ""}
    return SAL_HEADER + "\n" + "".join(SAL_ROW.format(**{**defaults, **r}) for r in rows)


def _salaries(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(salarie.c.matricule, salarie.c.nir, salarie.c.nom).order_by(salarie.c.matricule)
        )]


def _taux(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(salarie.c.matricule, taux.c.taux_pas, taux.c.type_taux)
            .join(taux, taux.c.salarie_id == salarie.c.id).order_by(taux.c.id)
        )]


def test_examples_import_cleanly(engine: Engine) -> None:
    for name in import_order(["salaries_exemple.csv", "employeurs_exemple.csv"]):
        result = import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
        assert result.errors.empty, result.errors
    assert [r[0] for r in _salaries(engine)] == ["A001", "A002", "A003", "B001"]
    assert _taux(engine) == [("A001", "7.50", "01"), ("A002", "4.30", "01"), ("A003", None, "13"),
                             ("B001", "0.00", "01")]
    with engine.connect() as conn:
        codes = conn.execute(select(dossier.c.code).order_by(dossier.c.code)).scalars().all()
    assert codes == ["ASSO-TILLEULS", "ATELIERS-DUPRE"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings_and_bom(engine: Engine, encoding: str) -> None:
    import_csv(engine, EMP.encode(), "employeurs.csv")
    result = import_csv(engine, _sal({"nom": "LÉVÊQUE"}).encode(encoding), "salaries.csv")
    assert result.errors.empty
    assert result.encoding == ("cp1252" if encoding == "cp1252" else "utf-8")
    assert _salaries(engine) == [("A001", "285037511203464", "LÉVÊQUE")]


def test_text_stays_text(engine: Engine) -> None:
    """A surname NA stays NA; NIR leading characters and matricule zeros are kept."""
    import_csv(engine, EMP.encode(), "employeurs.csv")
    import_csv(engine, _sal({"mat": "007", "nom": "NA", "nir": "1790169123045"}).encode(),
               "salaries.csv")
    assert _salaries(engine) == [("007", "1790169123045", "NA")]


def test_bad_rows_are_reported_and_good_rows_imported(engine: Engine) -> None:
    import_csv(engine, EMP.encode(), "employeurs.csv")
    body = _sal(
        {"mat": "A001"},
        {"mat": "A002", "nir": "285037511203499"},  # bad key
        {"mat": "A003", "taux": "7,555"},
        {"mat": "A001"},  # duplicate of line 2
    ) + "D9;81234567600017;A004;;X;;Y;F;;;;;\n" + "D1;81234567600018;A005;;X;;Y;F;;;;;\n"
    body = body.replace("A003;285037511203464;DUPONT;;Marie;F;12/03/1985",
                        "A003;285037511203464;DUPONT;;Marie;F;31/02/1985")
    body += "D1;81234567600017;A006;too;few\n"
    result = import_csv(engine, body.encode(), "salaries.csv")
    report = result.errors[["ligne", "colonne", "erreur"]].values.tolist()
    assert [r[:2] for r in report] == [
        [3, "nir"], [4, "date_naissance"], [4, "taux_pas"], [5, "dossier/siret/matricule"],
        [6, "siret"], [7, "siret"], [8, ""],
    ]
    assert "doublon de la ligne 2" in report[3][2]
    assert "employeur inconnu dans le dossier D9" in report[4][2]
    assert "SIRET invalide" in report[5][2]
    assert result.imported == 1 and result.rows == 7
    assert [r[0] for r in _salaries(engine)] == ["A001"]
    assert_golden(to_csv_text(result.errors), "registre/bad_rows.import.csv")  # the report


def test_upsert_updates_and_rate_history_only_on_change(engine: Engine) -> None:
    import_csv(engine, EMP.encode(), "employeurs.csv")
    import_csv(engine, _sal({"taux": "4.30", "type": "01"}).encode(), "salaries.csv")
    again = import_csv(engine, _sal({"nom": "DURAND", "taux": "4,3", "type": "1"}).encode(),
                       "salaries_2.csv")
    assert again.taux_added == 0
    import_csv(engine, _sal({"nom": "DURAND", "taux": "5.10"}).encode(), "salaries_3.csv")
    assert _salaries(engine) == [("A001", "285037511203464", "DURAND")]
    assert _taux(engine) == [("A001", "4.30", "01"), ("A001", "5.10", "01")]
    changed = EMP.replace("LES TILLEULS", "LES TILLEULS SUD")
    import_csv(engine, changed.encode(), "employeurs_2.csv")
    with engine.connect() as conn:
        assert conn.execute(select(employeur.c.raison_sociale)).scalars().all() == [
            "LES TILLEULS SUD"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "vide"),
        (b"   \n", "vide"),
        (b"dossier;siret\x00;x\n", "binaire"),
        ((SAL_HEADER + ";extra\n").encode(), "entete"),
        (SAL_HEADER.replace("nom;", "").encode(), "entete"),
        (SAL_HEADER.replace("nom;nom_usage", "nom_usage;nom").encode(), "entete"),
        (b"\x81\x8d\x8f\x90\x9d", "encodage"),
    ],
)
def test_structurally_broken_files_are_refused(engine: Engine, raw: bytes, code: str) -> None:
    with pytest.raises(InputError) as info:
        import_csv(engine, raw, "salaries.csv")
    assert info.value.code == code
    assert info.value.todo


def test_unknown_file_name(engine: Engine) -> None:
    with pytest.raises(InputError, match="nom de fichier non reconnu"):
        import_csv(engine, EMP.encode(), "personnel.csv")


def test_layout_and_order() -> None:
    assert layout_for("registre/Employeurs_2024.CSV") is EMPLOYEURS
    assert import_order(["salaries_a.csv", "employeurs_b.csv", "employeurs_a.csv"]) == [
        "employeurs_a.csv", "employeurs_b.csv", "salaries_a.csv"]


def test_reader_quoted_fields_and_crlf(tmp_path: Path) -> None:
    raw = b'a;b\r\n"x;y";"say ""hi"""\r\n\r\n1;2\r\n'
    table = read_csv_table(raw, ("a", "b"))
    assert table.rows.values.tolist() == [["x;y", 'say "hi"'], ["1", "2"]]
    assert table.lines.tolist() == [2, 4]
    assert table.bad.empty


def test_reader_counts_rows_and_rejects(tmp_path: Path) -> None:
    raw = b"a;b\n1;2\n3\n4;5;6\n7;8\n"
    table = read_csv_table(raw, ("a", "b"))
    assert len(table.rows) + len(table.bad) == 4  # lines = parsed + rejected
    assert table.bad["ligne"].tolist() == [3, 4]
    assert isinstance(table.rows, pd.DataFrame)


cell = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"
    ),
    max_size=12,
)


@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=20),
       st.sampled_from(["utf-8", "utf-8-sig"]), st.sampled_from(["\n", "\r\n"]))
@example([("NA", "NULL", "nan"), ("None", "007", "2A"), ("É;À", '"q"', "")], "utf-8", "\n")
def test_csv_write_then_read_gives_the_same_rows(
    rows: list[tuple[str, str, str]], encoding: str, newline: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator=newline)
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    table = read_csv_table(buffer.getvalue().encode(encoding), ("a", "b", "c"))
    assert [tuple(r) for r in table.rows.values.tolist()] == rows  # ";;" is a row of blanks
    assert table.bad.empty


@given(st.lists(st.tuples(cell, cell, st.integers(0, 10**6)), max_size=20))
@example([("a;b", 'say "hi"', 1), ("line\nbreak", "NA", 2), ("", "", 0)])
def test_csv_writer_matches_pandas(rows: list[tuple[str, str, int]]) -> None:
    """As pandas writes it, once formula triggers are neutralised (tests/test_security.py)."""
    frame = pd.DataFrame(rows, columns=["x", "y", "n"])
    number = re.compile(r"[+-]?\d+(?:[.,]\d+)?")

    def safe(value):
        formula = (isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r")
                   and not number.fullmatch(value))
        return f"'{value}" if formula else value

    expected = frame.map(safe).to_csv(sep=";", index=False, lineterminator="\n")
    assert to_csv_text(frame) == expected


def test_csv_writer_quotes_a_bare_carriage_return() -> None:
    """Unlike pandas, so that every reader keeps the field whole."""
    text = to_csv_text(pd.DataFrame({"x": ["cr\r"], "y": ["ok"]}))
    assert text == 'x;y\n"cr\r";ok\n'
    assert read_csv_table(text.encode(), ("x", "y")).rows.values.tolist() == [["cr\r", "ok"]]


_CELL = st.text(st.sampled_from(list('ab;"\n é')), max_size=6)


@given(st.lists(st.lists(_CELL, min_size=3, max_size=3), min_size=1, max_size=30),
       st.integers(1, 120), st.booleans())
def test_a_file_read_in_blocks_is_the_file_read_at_once(
        rows: list[list[str]], block: int, malformed: bool) -> None:
    """Blocks end at a newline outside quotes: a cell holding a newline, or `;`, never
    straddles two blocks, and line numbers are the file's."""
    header = ("a", "b", "c")
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\n")
    writer.writerows([header, *rows, *([["x", "y"]] if malformed else [])])
    raw = text.getvalue().encode()
    whole = read_csv_table(raw, header)
    blocks = list(read_csv_blocks(raw, header, block))
    assert [(*r, line) for t in blocks for r, line in zip(
        t.rows.itertuples(index=False), t.lines, strict=True)] == [
        (*r, line) for r, line in zip(whole.rows.itertuples(index=False), whole.lines,
                                      strict=True)]
    assert [tuple(b) for t in blocks for b in t.bad.itertuples(index=False)] == [
        tuple(b) for b in whole.bad.itertuples(index=False)]


@given(st.lists(st.tuples(st.sampled_from(["D1", "D2"]), st.sampled_from(["S1", "S2"]),
                          st.sampled_from(["A", "B", "C", "A1", "1A"])), max_size=40),
       st.integers(1, 12))
def test_duplicate_keys_name_the_first_line_across_blocks(
        rows: list[tuple[str, str, str]], block: int) -> None:
    """The rows seen a block at a time: each key's first line is kept, a later row is a
    duplicate of that first line, wherever the blocks fall."""
    from gedflow.registry.importer import _Seen

    seen, kept, errors = _Seen(), [], {}
    for low in range(0, len(rows), block):
        frame = pd.DataFrame(rows[low:low + block], columns=["dossier", "siret", "matricule"],
                             dtype="str").set_axis(range(low, low + len(rows[low:low + block])))
        lines = pd.Series(frame.index + 2, index=frame.index)
        dup, found = seen.dedupe(frame, lines, ["dossier", "siret", "matricule"])
        kept += list(lines[~dup])
        errors |= {line: message for f in found for line, message in zip(
            f["ligne"], f["erreur"], strict=True)}
    first: dict[tuple[str, str, str], int] = {}
    for line, key in enumerate(rows, start=2):
        first.setdefault(key, line)
    assert kept == sorted(first.values())
    assert errors == {line: f"doublon de la ligne {first[key]}"
                      for line, key in enumerate(rows, start=2) if first[key] != line}
