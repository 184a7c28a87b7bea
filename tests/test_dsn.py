"""The monthly DSN: read leniently (each syntax pitfall), several declarations and lots, the
registry fed from réel declarations on SQLite and PostgreSQL, idempotence, annule et remplace,
test vs réel, and each quarantine reason. Every DSN here is written by the test."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from gedflow.db.tables import contrat, dsn_declaration, employeur, salarie, versement_pas
from gedflow.dsn.handler import handle_dsn
from gedflow.dsn.read import view
from gedflow.formats import dsn as dsn_format
from gedflow.inbox import Outcome, scan
from gedflow.intake import claim, process
from gedflow.settings import Settings
from schemas.dsn import INDIVIDU, VERSEMENT

from .dsn_support import Person, declaration, dsn_bytes, envoi

NIR_A, NIR_B = "1850775056123", "2921169123045"


def _run(settings: Settings, engine: Engine, rel: str, raw: bytes) -> Outcome:
    path = settings.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    [outcome] = [process(settings, engine, c, handle_dsn)
                 for p in scan(settings) if (c := claim(settings, engine, p))]
    return outcome


def _lecture(settings: Settings, stem: str, period: str = "2026_03") -> pd.DataFrame:
    return pd.read_csv(settings.outbox / "dsn" / period / f"{stem}.lecture.csv", sep=";",
                       dtype=str, keep_default_na=False)


def _count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


# --- reading: each syntax pitfall ----------------------------------------------------------------

def test_quote_inside_latin1_crlf_bom() -> None:
    people = [Person(nir=NIR_A, nom="D'ARTAGNAN", prenoms="HÉLÈNE", matricule="A001")]
    lines = envoi(declaration(people))
    for raw in (dsn_bytes(lines), dsn_bytes(lines, newline="\r\n"),
                b"\xef\xbb\xbf" + dsn_bytes(lines, encoding="utf-8")):
        read = dsn_format.read(raw)
        [person] = read[INDIVIDU][["nom", "prenoms"]].values.tolist()
        assert person == ["D'ARTAGNAN", "HÉLÈNE"] and read.problems.empty, read.problems
    assert dsn_format.read(dsn_bytes(lines)).encoding == "iso-8859-1"


def test_missing_001_and_ntt_without_nir() -> None:
    people = [Person(nir="", ntt="181234567600001", matricule="", nom="BERNARD"),
              Person(nir=NIR_A, matricule="A001")]
    lines = [line for line in envoi(declaration(people))
             if not line.startswith("S21.G00.40.001")]  # no .001: instances still cut
    read = dsn_format.read(dsn_bytes(lines, newline="\n"))
    individus = read[INDIVIDU]
    assert individus[["nir", "ntt", "matricule"]].values.tolist() == [
        ["", "181234567600001", ""], [NIR_A, "", "A001"]]
    assert len(read.tables["contrat"]) == 2


def test_a_corsican_nir_written_in_lower_case_is_read_upper_cased() -> None:
    """2a/2b are the same departments as 2A/2B: the reader gives the NIR upper-cased, and the
    view's NIR number (the registry's key) is that of the upper-case NIR."""
    read = dsn_format.read(dsn_bytes(envoi(declaration([Person(nir="185052a123456")]))))
    assert not len(read.problems)
    assert read[INDIVIDU]["nir"].tolist() == ["185052A123456"]
    upper = view(dsn_format.read(dsn_bytes(envoi(declaration([Person(nir="185052A123456")])))))
    assert view(read).individus["nir_cle"].tolist() == upper.individus["nir_cle"].tolist()


def test_block_out_of_place_and_bad_values_are_rows_not_refusals() -> None:
    people = [Person(nir="28503751120", matricule="A001"), Person(nir=NIR_B, matricule="A002")]
    lines = envoi(declaration(people))
    lines.insert(2, "S21.G00.50.001,'31032026'")  # a versement before any individual
    lines = [line.replace("'75.00'", "'75,00'") for line in lines]
    lines.insert(5, "n'importe quoi")
    lines.insert(6, "S21.G00.30.002,''")
    read = dsn_format.read(dsn_bytes(lines))
    codes = read.problems["code"].tolist()
    assert {"BLOC_HORS_PLACE", "FORMAT", "NIR_INVALIDE", "LIGNE_ILLISIBLE",
            "VALEUR_VIDE"} <= set(codes)
    assert "28503*" in read.problems["valeur"].tolist()  # masked
    assert len(read[VERSEMENT]) == 2  # the misplaced one left out


def test_s90_mismatch_is_reported() -> None:
    read = dsn_format.read(dsn_bytes(envoi(declaration([Person(nir=NIR_A)]),
                                           totals=("999", "3"))))
    assert read.problems["code"].tolist() == ["TOTAUX_S90"]


def test_several_declarations_and_a_lot() -> None:
    first = declaration([Person(nir=NIR_A, matricule="A001")])
    second = declaration([Person(nir=NIR_B, matricule="B001")], siren="421987652", nic="00029")
    one = envoi(first, second)
    lot = (["S05.G51.00.001,'V01R02'", "S05.G51.00.002,'1'", "S06.G51.00.001,'DSNOK'"] + one
           + envoi(declaration([Person(nir=NIR_B)], siren="421987652", nic="00029",
                               ordre="2"))
           + ["S96.G51.00.001,'FINSL'", "S95.G51.00.001,'1'"])
    read = dsn_format.read(dsn_bytes(lot))
    assert read.problems.empty, read.problems
    decls = read.tables["declaration"]
    assert len(decls) == 3 and len(read[INDIVIDU]) == 3


def test_not_a_dsn_is_refused_with_what_it_looks_like() -> None:
    from gedflow.errors import InputError

    for raw, words in ((b"%PDF-1.4", "PDF"), (b"<?xml version='1.0'?><r/>", "XML"),
                       (b"nom;prenom\nA;B\n", "tableau"), (b"", "vide")):
        with pytest.raises(InputError, match="ce n'est pas une DSN") as info:
            dsn_format.read(raw)
        assert words in str(info.value)


# --- the registry feed -----------------------------------------------------------------------

def test_feed_creates_employer_salaries_contrats_and_versements(settings: Settings,
                                                                engine: Engine) -> None:
    people = [Person(nir=NIR_A, matricule="A001", contrats=[{
                  "date_debut": "16032026", "nature": "02", "numero": "00007",
                  "fin_prevue": "15092026", "date_fin": "31032026"}]),
              Person(nir="", ntt="181234567600001", nom="BERNARD", matricule="")]
    outcome = _run(settings, engine, "dsn/ASSO-NOUVELLE/mars.dsn",
                   dsn_bytes(envoi(declaration(people))))
    assert outcome.outcome == "archived", outcome.reason
    assert outcome.summary["81234567600017"] == "integree"
    with engine.connect() as conn:
        assert conn.execute(select(employeur.c.siret, employeur.c.ape, employeur.c.ville)
                            ).all() == [("81234567600017", "8899B", "LYON")]
        people_rows = conn.execute(select(salarie.c.matricule, salarie.c.nir, salarie.c.sexe)
                                   .order_by(salarie.c.id)).all()
        contracts = conn.execute(select(contrat.c.nature, contrat.c.nature_dsn,
                                        contrat.c.numero_contrat, contrat.c.motif_fin,
                                        contrat.c.statut).order_by(contrat.c.id)).all()
        pas = conn.execute(select(versement_pas.c.taux, versement_pas.c.montant_pas)).all()
    assert people_rows == [("A001", NIR_A, "M"), ("181234567600001", "", "M")]
    assert contracts[0] == ("CDD", "02", "00007", "031", "dsn")
    assert pas == [("7.50", "75.00"), ("7.50", "75.00")]
    assert (settings.outbox / "dsn/2026_03/mars.dsn.html").exists()


def test_same_declaration_twice_changes_nothing(settings: Settings, engine: Engine) -> None:
    lines = envoi(declaration([Person(nir=NIR_A, matricule="A001")]))
    _run(settings, engine, "dsn/ASSO/a.dsn", dsn_bytes(lines))
    again = _run(settings, engine, "dsn/ASSO/b.dsn", dsn_bytes(lines, newline="\r\n"))
    assert again.summary["81234567600017"] == "deja_integree"
    assert _count(engine, versement_pas) == 1 and _count(engine, salarie) == 1


def test_annule_et_remplace_replaces_the_versements(settings: Settings, engine: Engine) -> None:
    first = Person(nir=NIR_A, matricule="A001")
    _run(settings, engine, "dsn/ASSO/a.dsn", dsn_bytes(envoi(declaration([first]))))
    fixed = Person(nir=NIR_A, matricule="A001")
    fixed.versements[0]["montant_pas"] = "80.00"
    outcome = _run(settings, engine, "dsn/ASSO/b.dsn", dsn_bytes(envoi(declaration(
        [fixed], type_="03", ordre="2"))))
    assert outcome.summary["81234567600017"] == "integree"
    with engine.connect() as conn:
        assert conn.execute(select(versement_pas.c.montant_pas)).scalars().all() == ["80.00"]
        assert conn.execute(select(dsn_declaration.c.statut).order_by(dsn_declaration.c.id)
                            ).scalars().all() == ["remplacee", "integree"]


def test_a_test_dsn_changes_nothing(settings: Settings, engine: Engine) -> None:
    outcome = _run(settings, engine, "dsn/ASSO/t.dsn",
                   dsn_bytes(envoi(declaration([Person(nir=NIR_A)]), reel=False)))
    assert outcome.outcome == "archived" and outcome.summary["81234567600017"] == "test"
    assert _count(engine, salarie) == 0 and _count(engine, dsn_declaration) == 1


@pytest.mark.parametrize(("nature", "type_", "people"), [("07", "01", 1), ("01", "02", 0)])
def test_nothing_to_integrate_is_archived(settings: Settings, engine: Engine, nature: str,
                                          type_: str, people: int) -> None:
    lines = envoi(declaration([Person(nir=NIR_A)] * people, nature=nature, type_=type_))
    outcome = _run(settings, engine, "dsn/ASSO/n.dsn", dsn_bytes(lines))
    assert outcome.outcome == "archived" and outcome.summary["81234567600017"] == "rien"
    page = (settings.outbox / "dsn/2026_03/n.dsn.html").read_text()
    assert f"DSN nature {nature}" in page


def test_unknown_establishment_at_the_top_is_quarantined(settings: Settings,
                                                         engine: Engine) -> None:
    outcome = _run(settings, engine, "dsn/mars.dsn",
                   dsn_bytes(envoi(declaration([Person(nir=NIR_A)]))))
    assert outcome.outcome == "quarantined"
    assert "établissement inconnu" in outcome.reason and "inbox/dsn/<DOSSIER>/" in outcome.reason


def test_a_file_that_is_not_a_dsn_is_quarantined(settings: Settings, engine: Engine) -> None:
    outcome = _run(settings, engine, "dsn/ASSO/x.dsn", b"%PDF-1.4 ...")
    assert outcome.outcome == "quarantined" and "ce n'est pas une DSN" in outcome.reason


def test_reading_problems_in_the_lecture_report(settings: Settings, engine: Engine) -> None:
    lines = envoi(declaration([Person(nir="28503751120", matricule="A001")]), totals=("1", "1"))
    outcome = _run(settings, engine, "dsn/ASSO/p.dsn", dsn_bytes(lines))
    assert outcome.outcome == "archived", outcome.reason
    report = _lecture(settings, "p")
    assert list(report.columns) == ["ligne", "rubrique", "valeur", "code", "message"]
    assert set(report["code"]) == {"NIR_INVALIDE", "TOTAUX_S90"}
    assert "28503751120" not in Path(settings.outbox / "dsn/2026_03/p.lecture.csv").read_text()
    with engine.connect() as conn:  # matched on its matricule, NIR left empty
        assert conn.execute(select(salarie.c.matricule, salarie.c.nir)).all() == [("A001", "")]


def test_the_example_completes_the_example_registry(registry: Engine, settings: Settings) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    from .conftest import EXAMPLES

    outcome = _run(settings, registry, "dsn/ASSO-TILLEULS/dsn_2022_09.dsn",
                   (EXAMPLES / "dsn/dsn_2022_09.dsn").read_bytes())
    assert outcome.outcome == "archived", outcome.reason
    assert (outcome.summary["81234567600017"], outcome.summary["42198765200029"]) == (
        "integree", "integree")
    assert _lecture(settings, "dsn_2022_09", "2022_09").empty
    with registry.connect() as conn:
        assert conn.execute(select(func.count()).select_from(salarie)).scalar() == 4  # matched
    shown = CliRunner().invoke(app, ["registry", "show", "--dossier", "ASSO-TILLEULS",
                                     "--root", str(settings.root)], terminal_width=200)
    assert "5.10 (01) le 30/09/2022" in shown.output and "1790169123045" not in shown.output


def test_the_dossier_board_has_a_dsn_line(settings: Settings, engine: Engine) -> None:
    from gedflow.board import boards

    _run(settings, engine, "dsn/ASSO/a.dsn",
         dsn_bytes(envoi(declaration([Person(nir=NIR_A, matricule="A001")]))))
    [board] = [b for b in boards(engine) if b.dossier == "ASSO" and b.month == "2026-03"]
    assert "| DSN lues | 1 |" in board.markdown
    assert "| DSN intégrées | 1 |" in board.markdown


def test_a_file_on_disk_reads_as_its_bytes(tmp_path: Path) -> None:
    """`read_path` (the file mapped, values made UTF-8 where used) gives what `read` of the
    bytes gives: Latin-1, CRLF, UTF-8 with a BOM, a last line without its newline."""
    people = [Person(nir=NIR_A, nom="D'ARTAGNAN", prenoms="HÉLÈNE", matricule="A001"),
              Person(nir="12345", nom="ÉLOÏSE", matricule="A002")]
    lines = envoi(declaration(people))
    for n, raw in enumerate((dsn_bytes(lines), dsn_bytes(lines, newline="\r\n"),
                             b"\xef\xbb\xbf" + dsn_bytes(lines, encoding="utf-8"),
                             dsn_bytes(lines).rstrip(b"\n"))):
        path = tmp_path / f"dsn_{n}.dsn"
        path.write_bytes(raw)
        mapped, loaded = dsn_format.read_path(path), dsn_format.read(raw)
        assert mapped.encoding == loaded.encoding and mapped.lines == loaded.lines
        pd.testing.assert_frame_equal(mapped.problems, loaded.problems)
        for name, table in loaded.tables.items():
            pd.testing.assert_frame_equal(mapped.tables[name], table, obj=name)
        assert mapped[INDIVIDU]["prenoms"].tolist()[0] == "HÉLÈNE"


@pytest.mark.parametrize("piece", [1 << 22, 700, 4096])
def test_blocks_gedflow_does_not_read_change_nothing_of_what_it_reads(
        piece: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cotisation blocks (S21.G00.81, not kept) after each versement, the file read in pieces
    of several sizes (instances cut at a piece's edge): the same tables as without them."""
    people = [Person(nir=f"18507691234{i:02d}", matricule=f"M{i:03d}", nom=f"NOM{i}")
              for i in range(40)]
    plain = envoi(declaration(people))
    cotisations = [f"S21.G00.81.{n},'{v}'" for k in range(3)
                   for n, v in (("001", f"{k:03d}"), ("003", "1000.00"), ("004", "7.50"))]
    padded = [x for line in plain[:-2]
              for x in ([line, *cotisations] if line.startswith("S21.G00.50.013") else [line])]
    padded = envoi(padded[len(envoi()) - 2:], totals=(str(len(padded) + 2), "1"))
    monkeypatch.setattr(dsn_format, "_PIECE", piece)
    internal = ["_id", "_parent", "_decl", "_ligne"]
    read_plain, read_padded = dsn_format.read(dsn_bytes(plain)), dsn_format.read(dsn_bytes(padded))
    assert read_padded.problems.empty, read_padded.problems
    for block in ("individu", "contrat", "versement"):
        pd.testing.assert_frame_equal(read_plain.tables[block].drop(columns=internal),
                                      read_padded.tables[block].drop(columns=internal))
    assert len(read_padded.tables["versement"]) == len(people)
    seen_plain, seen_padded = view(read_plain), view(read_padded)  # columns of several pieces
    for frame in ("individus", "contrats", "versements"):
        pd.testing.assert_frame_equal(getattr(seen_plain, frame).drop(columns=internal),
                                      getattr(seen_padded, frame).drop(columns=internal))
    assert seen_padded.individus["date_naissance"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
