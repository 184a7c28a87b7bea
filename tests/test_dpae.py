"""DPAE test de préparation and dpae.txt / dpae.xml: the spec's worked example (§8), knock-out
tests over every mandatory field, one test per rule, modes and phases. SQLite and PostgreSQL."""

import re

import pandas as pd
import pytest
from sqlalchemy import Engine, select, update

from gedflow.db.tables import contrat, dossier, dpae_batch, employeur
from gedflow.dpae.prepare import Options, Preparation, hires_from_csv, prepare
from gedflow.dpae.report import write_reports
from gedflow.settings import Settings
from schemas.dpae import HIRES

from .conftest import TESTS
from .dpae_support import (
    HIRE_1,
    HIRE_2,
    MANDATORY_EMPLOYER,
    MANDATORY_HIRE,
    NOW,
    csv_of,
    run,
)
from .golden import assert_golden

GOLDEN = TESTS / "data/dpae"


def codes(result: Preparation, gravite: str = "erreur") -> list[tuple[str, str]]:
    found = result.issues[result.issues["gravite"] == gravite]
    return sorted(zip(found["champ"], found["code"], strict=True))


def spec_records() -> list[str]:
    """The DUE specification's two example records, right-padded to 989."""
    return (GOLDEN / "spec_records.dpae.txt").read_text(encoding="iso-8859-1").splitlines()


# --- the spec's worked example ------------------------------------------------------------------

def test_spec_example_gives_the_spec_records(registry: Engine, settings: Settings) -> None:
    result = run(registry, settings, HIRE_1, HIRE_2)
    assert result.errors == 0 and result.built == 2
    lines = result.files["dpae.txt"].read_bytes().decode("iso-8859-1").split("\n")
    assert lines[-1] == "" and [len(x) for x in lines[:-1]] == [989, 989]
    for ours, spec in zip(lines[:-1], spec_records(), strict=True):
        for position, (got, want) in enumerate(zip(ours, spec, strict=True), start=1):
            if 78 <= position <= 121:  # LIBRE: gedflow's own record id, blank in the spec
                continue
            assert got == want, f"position {position}: {got!r} != {want!r}"
        assert re.fullmatch(r"GEDFLOW-\d+ *", ours[77:121])
    xml = result.files["dpae.xml"].read_bytes()
    assert_golden(xml, "dpae/spec_example.dpae.xml")
    csv_path, html_path = write_reports(result, "Test de préparation DPAE — ATELIERS-DUPRE")
    assert_golden(csv_path.read_bytes(), "dpae/spec_example.preparation.csv")
    assert_golden(html_path.read_bytes(), "dpae/spec_example.preparation.html")
    assert b'encoding=\'ISO-8859-1\'' in xml and b"<FR_NNI.NIRKey.Text>" not in xml


def test_record_ids_are_stable_and_match_contrats(registry: Engine, settings: Settings) -> None:
    first = run(registry, settings, HIRE_1)
    again = run(registry, settings, HIRE_1)
    id_1 = first.files["dpae.txt"].read_bytes()[77:121]
    assert id_1 == again.files["dpae.txt"].read_bytes()[77:121]
    with registry.connect() as conn:
        contrat_id = conn.execute(select(contrat.c.id)).scalar()
    assert id_1.decode().strip() == f"GEDFLOW-{contrat_id}"


def test_the_hire_is_recorded_as_a_contrat(registry: Engine, settings: Settings) -> None:
    run(registry, settings, HIRE_1, HIRE_2)
    with registry.connect() as conn:
        rows = conn.execute(select(contrat.c.nature, contrat.c.heure_embauche,
                                   contrat.c.essai_jours, contrat.c.statut)
                            .order_by(contrat.c.id)).all()
    assert [tuple(r) for r in rows] == [("CDI", "08:30", 60, "a_declarer"),
                                        ("CDD", "14:00", None, "a_declarer")]


# --- knock-out: each mandatory field blanked yields exactly one error naming it --------------

@pytest.mark.parametrize("column", MANDATORY_HIRE)
def test_blanking_a_mandatory_hire_field(registry: Engine, settings: Settings, column: str):
    result = run(registry, settings, dict(HIRE_1, **{column: ""}))
    errors = codes(result)
    assert len(errors) == 1, errors
    assert errors[0][0] == column and errors[0][1] == "OBLIGATOIRE"


@pytest.mark.parametrize("column", MANDATORY_EMPLOYER)
def test_blanking_a_mandatory_employer_field(registry: Engine, settings: Settings, column: str):
    with registry.begin() as conn:
        conn.execute(update(employeur).where(employeur.c.siret == "12345678200010")
                     .values(**{column: ""}))
    errors = codes(run(registry, settings, HIRE_1))
    assert len(errors) == 1, errors
    assert errors[0][0] == f"employeur_{column}"


# --- one test per rule ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"siret": "12345678200011"}, [("siret", "SIRET_INVALIDE")]),
        ({"siret": "42198765200011"}, [("siret", "EMPLOYEUR_INCONNU")]),
        ({"nir": "290036912304599"}, [("nir", "NIR_CLE")]),
        ({"sexe": "M"}, [("sexe", "NIR_SEXE")]),
        ({"date_naissance": "15/04/1990"}, [("date_naissance", "NIR_NAISSANCE")]),
        ({"dept_naissance": "75"}, [("dept_naissance", "NIR_DEPARTEMENT")]),
        ({"dept_naissance": "6"}, [("dept_naissance", "FORMAT")]),
        ({"nature_contrat": "CDD", "essai_jours": ""}, [("date_fin", "CDD_SANS_FIN")]),
        ({"date_fin": "30/06/2025"}, [("date_fin", "CDI_AVEC_FIN")]),
        ({"nature_contrat": "CDD", "date_fin": "01/03/2025"}, [("date_fin", "FIN_AVANT_DEBUT"),
                                                              ("date_embauche", "DELAI_DEPASSE")]
         [:1]),
        ({"essai_jours": ""}, [("essai_jours", "ESSAI_OBLIGATOIRE")]),
        ({"nature_contrat": "CDD", "date_fin": "30/12/2025", "essai_jours": ""},
         [("essai_jours", "ESSAI_OBLIGATOIRE")]),
        ({"essai_jours": "1000"}, [("essai_jours", "FORMAT")]),
        ({"heure_embauche": "8h30"}, [("heure_embauche", "FORMAT")]),
        ({"nature_contrat": "CDX"}, [("nature_contrat", "FORMAT")]),
        ({"nom": "MARTINEAU2"}, [("nom", "CARACTERES")]),
        ({"date_embauche": "03/03/2025", "heure_embauche": "09:00"},
         [("date_embauche", "DELAI_DEPASSE")]),
        ({"date_embauche": "12/03/2025"}, [("date_embauche", "DELAI_TROP_TOT")]),
    ],
)
def test_each_rule(registry: Engine, settings: Settings, changes: dict, expected: list) -> None:
    result = run(registry, settings, dict(HIRE_1, **changes))
    assert codes(result) == sorted(expected)


def test_fin_avant_debut(registry: Engine, settings: Settings) -> None:
    hire = dict(HIRE_2, date_fin="01/03/2025")
    assert ("date_fin", "FIN_AVANT_DEBUT") in codes(run(registry, settings, hire))


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"nir": ""}, ("nir", "NIR_ABSENT")),
        ({"nature_contrat": "CTT", "essai_jours": ""}, ("date_fin", "CTT_SANS_FIN")),
        ({"nom_usage": "DE LA FONTAINE DE SAINT-EXUPERY-MONTMORENCY"}, ("nom_usage", "TRONQUE")),
    ],
)
def test_warnings_do_not_block(registry: Engine, settings: Settings, changes, warning) -> None:
    result = run(registry, settings, dict(HIRE_1, **changes), mode="reel")
    assert codes(result) == [] and warning in codes(result, "avertissement")
    assert result.built == 1


def test_sst_not_required_for_temporary_work(registry: Engine, settings: Settings) -> None:
    hire = dict(HIRE_1, siret="81234567600017", nature_contrat="CTT", date_fin="14/03/2025",
                essai_jours="")
    with registry.begin() as conn:
        conn.execute(update(employeur).where(employeur.c.siret == "81234567600017")
                     .values(code_sst=""))
    assert codes(run(registry, settings, hire)) == []


@pytest.mark.parametrize(("dept", "nir"), [("2A", "179022A123045"), ("2B", "179022B123045"),
                                           ("971", "179029712304"), ("99", "179029912304")])
def test_birth_departements(registry: Engine, settings: Settings, dept: str, nir: str) -> None:
    from stdnum.fr import nir as stdnum_nir

    nir13 = (nir + "5")[:13]
    full = nir13 + stdnum_nir.calc_check_digits(nir13 + "00")
    hire = dict(HIRE_1, sexe="M", nir=full, date_naissance="01/02/1979", dept_naissance=dept)
    assert codes(run(registry, settings, hire)) == []


def test_doublon_in_the_file_and_after_a_real_build(registry: Engine, settings: Settings):
    twice = run(registry, settings, HIRE_1, HIRE_1)
    assert codes(twice) == [("date_embauche", "DOUBLON")]
    assert run(registry, settings, HIRE_1, mode="reel").built == 1
    again = run(registry, settings, HIRE_1)
    assert codes(again) == [("date_embauche", "DOUBLON")] and again.built == 0


def test_broken_lines_are_reported(registry: Engine, settings: Settings) -> None:
    raw = csv_of(HIRE_1) + b"12345678200010;E009;TROP;COURT\n"
    rows, bad = hires_from_csv(raw)
    result = prepare(registry, rows, now=NOW, outbox=settings.outbox, root=settings.root,
                     options=Options(), bad_lines=bad)
    assert codes(result) == [("", "FORMAT")]
    assert result.issues.loc[result.issues["code"] == "FORMAT", "ligne"].tolist() == [3]


# --- modes and phases ----------------------------------------------------------------------------

def test_test_mode_builds_from_the_hires_without_errors(registry: Engine, settings: Settings):
    result = run(registry, settings, HIRE_1, dict(HIRE_2, sexe="F"), fmt="flat")
    assert result.errors == 1 and result.built == 1
    assert len(result.files["dpae.txt"].read_bytes()) == 990
    report = (result.folder / "preparation.csv") if (result.folder / "preparation.csv").exists() \
        else None
    assert report is None  # reports are written by the caller (handler / command)


def test_real_mode_builds_nothing_while_errors_remain(registry: Engine, settings: Settings):
    result = run(registry, settings, HIRE_1, dict(HIRE_2, sexe="F"), mode="reel")
    assert result.built == 0 and result.files == {}
    assert "aucun fichier construit" in result.note
    with registry.connect() as conn:
        assert conn.execute(select(dpae_batch)).all() == []
        statuts = conn.execute(select(contrat.c.statut).order_by(contrat.c.id)).scalars().all()
    assert statuts == ["a_declarer", "a_corriger"]


def test_real_mode_marks_contrats_ready_with_the_batch(registry: Engine, settings: Settings):
    result = run(registry, settings, HIRE_1, HIRE_2, mode="reel", fmt="flat")
    with registry.connect() as conn:
        batch = conn.execute(select(dpae_batch)).one()
        rows = conn.execute(select(contrat.c.statut, contrat.c.batch_id)).all()
    assert batch.id == result.batch_id and batch.records == 2 and batch.mode == "reel"
    assert {tuple(r) for r in rows} == {("pret_a_envoyer", result.batch_id)}
    assert (result.files["dpae.txt"].stat().st_mode & 0o777) == 0o600


def test_test_phase_writes_tst(registry: Engine, settings: Settings) -> None:
    with registry.begin() as conn:
        conn.execute(update(dossier).values(phase="etape_4"))
    result = run(registry, settings, HIRE_1)
    record = result.files["dpae.txt"].read_bytes()
    assert record[72:75] == b"TST"
    assert b"<FR_DUE_Upload.Test.Indicator>1<" in result.files["dpae.xml"].read_bytes()


def test_crlf_and_encoding_options(registry: Engine, settings: Settings) -> None:
    rows, _bad = hires_from_csv(csv_of(HIRE_1))
    result = prepare(registry, rows, now=NOW, outbox=settings.outbox, root=settings.root,
                     options=Options(newline="\r\n", encoding="cp1252"))
    assert result.files["dpae.txt"].read_bytes().endswith(b"\r\n")


def test_hires_from_the_registry(registry: Engine, settings: Settings) -> None:
    from gedflow.dpae.prepare import hires_from_registry

    run(registry, settings, HIRE_1, HIRE_2)
    with registry.connect() as conn:
        hires = hires_from_registry(conn, "ATELIERS-DUPRE", None, None, None)
    assert hires[list(HIRES.header)].iloc[0]["heure_embauche"] == "08:30"
    result = prepare(registry, hires, now=NOW, outbox=settings.outbox, root=settings.root,
                     options=Options(mode="reel"), dossier_code="ATELIERS-DUPRE")
    assert result.errors == 0 and result.built == 2
    assert pd.isna(result.issues["ligne"]).all()
