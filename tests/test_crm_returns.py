"""DGFiP returns read as the DGFiP writes them: a value gedflow cannot use
is a report row with its code, never a quarantine; every GIP-MDS report type is processed or
named. Every file here is written for the test, with invented people."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from gedflow.db.tables import crm_anomalie, crm_declaration
from gedflow.formats import crm as crm_format
from gedflow.settings import Settings

from .test_crm import _p, drop, rate_rows, report, run

REL = "crm_nominatif/travail/2022_09/retour.xml"
PLACEHOLDER_SIREN, PLACEHOLDER_NIC = "456789123", "54321"  # fail the checksum, as in examples


def _decl(people: str = "", anomalies: str = "", siren: str = "812345676", nic: str = "00017",
          rang: int = 1, mois: str = "01082022") -> str:
    return (f"<declaration><declaration_identification><rang>{rang}</rang><nature>01</nature>"
            f"<type>01</type><mois>{mois}</mois><SIREN>{siren}</SIREN>"
            f"<nic_affectation>{nic}</nic_affectation></declaration_identification>"
            f"<declaration_bilan><etat>OK</etat>{people}</declaration_bilan>{anomalies}"
            "</declaration>")


def _rapport(*declarations: str, root_type: str = "CRM nominatif", prefix: str = "gipmds",
             identifiant: str | None = "900000000000000700", etat: str = "OK",
             idflux: str = "FLUX00000000000000000001") -> str:
    ident = f' identifiant="{identifiant}"' if identifiant is not None else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{prefix}:rapport xmlns:{prefix}='
            f'"http://www.gip-mds.fr/"{ident} type="{root_type}" profil="DSN" version="v01r08">'
            f"<envoi><envoi_identification><idflux>{idflux}</idflux><version_norme>201710"
            "</version_norme><emetteur_siret>81234567600017</emetteur_siret>"
            f"</envoi_identification><envoi_bilan><envoi_etat>{etat}</envoi_etat></envoi_bilan>"
            f"</envoi>{''.join(declarations)}</{prefix}:rapport>")


def _anomaly(code: str, message: str, nir: str = "", matricule: str = "",
             rubrique: str = "S21.G00.30.001", valeur: str = "", associees: str = "") -> str:
    who = (f"<NIR>{nir}</NIR>" if nir else "") + (
        f"<matricule>{matricule}</matricule>" if matricule else "")
    return (f"<declaration_anomalie><description><code>{code}</code><categorie>non-bloquant"
            f"</categorie><message>{message}</message></description><valeurs>"
            f"<rubrique_declenchante><identifiant>{rubrique}</identifiant><valeur>{valeur}"
            f"</valeur></rubrique_declenchante>{associees}</valeurs><environnement><salarie>"
            f"{who}</salarie></environnement></declaration_anomalie>")


def _process(settings: Settings, engine: Engine, content: str, rel: str = REL):
    drop(settings, rel, content)
    [outcome] = run(settings, engine)
    return outcome


def _rows(settings: Settings, rel: str = REL) -> pd.DataFrame:
    return report(settings, rel, "2022_09")


def _html(settings: Settings, rel: str = REL) -> str:
    page = settings.outbox / "crm_nominatif/2022_09" / f"{Path(rel).stem}.rapprochement.html"
    return html.unescape(page.read_text())


def _invalid(rows: pd.DataFrame) -> list[list[str]]:
    found = rows[rows["statut"] == "invalide"]
    return found[["siret", "matricule", "nir_masque", "taux_crm", "anomalie_code"]].values.tolist()


# --- values gedflow cannot use: report rows, the file archived ---------------------------------

def test_invalid_siret_declaration_is_reported_and_left_out(seeded: Settings,
                                                            engine: Engine) -> None:
    content = _rapport(_decl(_p("2850375112034", "7.50")),
                       _decl(_p("1790169123045", "9.99", "A002"), siren=PLACEHOLDER_SIREN,
                             nic=PLACEHOLDER_NIC, rang=2))
    outcome = _process(seeded, engine, content)
    assert outcome.outcome == "archived", outcome.reason
    rows = _rows(seeded)
    assert _invalid(rows) == [["45678912354321", "", "", "", "SIRET_INVALIDE"]]
    message = rows.loc[rows["statut"] == "invalide", "anomalie_message"].item()
    assert "déclaration 2" in message and "SIREN + nic_affectation" in message
    assert "A002" not in rows.loc[rows["siret"] == "45678912354321", "matricule"].tolist()
    assert outcome.summary["45678912354321"] == "invalide"
    assert outcome.summary["81234567600017"] == "integre"
    assert rate_rows(engine)[4:] == []  # A001 conforme; nothing of the placeholder declaration
    html = _html(seeded)
    assert html.index("SIRET_INVALIDE") < html.index("conforme")


def test_crm_financier_with_placeholder_siret_is_archived(seeded: Settings,
                                                           engine: Engine) -> None:
    anomaly = _anomaly("CBS03", "Coordonnées bancaires inconnues", rubrique="S21.G00.20.004",
                       valeur="FR76 3000 6000 0112 3456 7890 189")
    content = _rapport(_decl(anomalies=anomaly, siren=PLACEHOLDER_SIREN, nic=PLACEHOLDER_NIC),
                       root_type="CRM financier", identifiant=None, etat="KO")
    outcome = _process(seeded, engine, content)
    assert outcome.outcome == "archived", outcome.reason
    lines = outcome.report_path.read_text().splitlines()
    assert lines[1].startswith("45678912354321;2022-08-01;;CBS03;non-bloquant;")
    assert _invalid(_rows(seeded))[0][-1] == "SIRET_INVALIDE"
    assert "refusé (envoi_etat KO)" in _html(seeded)


def test_unusable_nir_matches_on_the_matricule(seeded: Settings, engine: Engine) -> None:
    people = (_p("28503751120", "7.50", "A001")  # too short: A001 by matricule
              + _p("179016912304599", "4.30", "A002")  # 15 characters, wrong key
              + _p("9X9999999999", "3.00", "Z999")  # unusable, unknown matricule
              + _p(rate="2.00", matricule="A003"))  # neither NIR nor NTT
    outcome = _process(seeded, engine, _rapport(_decl(people)))
    assert outcome.outcome == "archived", outcome.reason
    rows = _rows(seeded)
    assert _invalid(rows) == [
        ["81234567600017", "A001", "28503*", "", "NIR_INVALIDE"],
        ["81234567600017", "A002", "17901*", "", "NIR_INVALIDE"],
        ["81234567600017", "A003", "", "", "NIR_INVALIDE"],
        ["81234567600017", "Z999", "9X999*", "", "NIR_INVALIDE"],
    ]
    people_rows = rows[rows["statut"] != "invalide"]
    assert people_rows[["matricule", "cle", "statut"]].values.tolist() == [
        ["A001", "matricule", "conforme"], ["A002", "matricule", "conforme"],
        ["A003", "matricule", "nouveau"], ["Z999", "", "inconnu_registre"]]
    assert "ni NIR ni NTT" in " ".join(rows["anomalie_message"])
    csv = (seeded.outbox / "crm_nominatif/2022_09/retour.rapprochement.csv").read_text()
    assert "179016912304599" not in csv and "28503751120" not in csv


def test_unusable_nir_in_an_anomaly_is_shown_masked(seeded: Settings, engine: Engine) -> None:
    anomaly = _anomaly("NIR01", "Échec de reconnaissance de la personne", nir="X" * 29,
                       matricule="A002", rubrique="S21.G00.30.001", valeur="X" * 29)
    outcome = _process(seeded, engine,
                       _rapport(_decl(_p("1790169123045", "4.30", "A002"), anomaly)))
    assert outcome.outcome == "archived", outcome.reason
    rows = _rows(seeded)
    found = rows[rows["statut"] == "anomalie"]
    assert found[["matricule", "nom", "cle", "nir_masque", "anomalie_code"]].values.tolist() == [
        ["A002", "MARTIN", "matricule", "XXXXX*", "NIR01"]]
    with engine.connect() as conn:
        assert conn.execute(select(crm_anomalie.c.nir)).scalar() == "X" * 15


def test_unusable_rate_reports_the_person_and_records_nothing(seeded: Settings,
                                                              engine: Engine) -> None:
    future = "<future_imposition_PAS><taux>abc</taux><date_effet>2022-10-01</date_effet>" \
             "</future_imposition_PAS>"
    people = (_p("2850375112034", "7,5%", "A001") + _p("1790169123045", "101", "A002")
              + _p("2920133081012", "0.00", "B009", future=future))
    outcome = _process(seeded, engine, _rapport(_decl(people)))
    assert outcome.outcome == "archived", outcome.reason
    rows = _rows(seeded)
    assert _invalid(rows) == [
        ["81234567600017", "A001", "28503*", "7,5%", "TAUX_INVALIDE"],
        ["81234567600017", "A002", "17901*", "101", "TAUX_INVALIDE"],
        ["81234567600017", "B009", "29201*", "abc", "TAUX_INVALIDE"],
    ]
    assert rows.loc[rows["matricule"].isin(["A001", "A002"]), "statut"].tolist() == [
        "invalide", "invalide"]  # one row each: not sans_taux, not absent_crm
    assert "futur" not in rows["statut"].tolist()
    assert rate_rows(engine)[4:] == []
    with engine.connect() as conn:
        assert conn.execute(select(crm_declaration.c.sans_taux)).scalar() == 0


@pytest.mark.parametrize(("mois", "future", "element"), [
    ("32132022", "", "mois"),
    ("01082022", "<taux>1.20</taux><date_effet>2022-13-01</date_effet>",
     "future_imposition_PAS/date_effet"),
    ("01082022", "<taux>1.20</taux>", "future_imposition_PAS/date_effet"),
])
def test_unusable_dates_are_reported(seeded: Settings, engine: Engine, mois: str, future: str,
                                     element: str) -> None:
    futur = f"<future_imposition_PAS>{future}</future_imposition_PAS>" if future else ""
    content = _rapport(_decl(_p("2850375112034", "7.50", "A001", future=futur), mois=mois))
    outcome = _process(seeded, engine, content)
    assert outcome.outcome == "archived", outcome.reason
    rows = _rows(seeded)
    found = rows[rows["statut"] == "invalide"]
    assert found["anomalie_code"].tolist() == ["DATE_INVALIDE"]
    assert f"élément {element}" in found["anomalie_message"].item()
    assert "futur" not in rows["statut"].tolist()
    assert rows.loc[rows["matricule"] == "A001", "statut"].tolist() == ["invalide", "conforme"] \
        or rows.loc[rows["matricule"] == "A001", "statut"].tolist() == ["conforme"]


# --- what the official schema settles -----------------------------------------------------------

def test_schema_facts(seeded: Settings, engine: Engine) -> None:
    both = "<salarie><NIR>2850375112034</NIR><NTT>NTT42</NTT><matricule>A001</matricule>" \
           "<taux_imposition_PAS>7.50</taux_imposition_PAS></salarie>"
    dated = ("<future_imposition_PAS><date_effet>2022-10-01</date_effet>"
             "</future_imposition_PAS>")  # date without rate: nothing to record
    content = _rapport(_decl(both + _p("179016912304503", "5.10", "A002", future=dated)),
                       identifiant=None, idflux="X" * 24)
    outcome = _process(seeded, engine, content)
    assert outcome.outcome == "archived", outcome.reason
    rows = _rows(seeded)
    assert rows[["matricule", "cle", "statut"]].values.tolist()[:2] == [
        ["A001", "nir", "conforme"], ["A002", "nir", "modifie"]]
    assert "pas d'identifiant" in _html(seeded)
    parsed = crm_format.read(seeded.archive / REL)
    assert parsed.envoi == {"idflux": "X" * 24, "emetteur_siret": "81234567600017",
                            "etat": "OK"}


# --- every report type processed or named --------------------------------------------------------

def test_crm_taux_sur_taux_is_recognised(seeded: Settings, engine: Engine) -> None:
    associees = ("<rubrique_associee><identifiant>S21_G00_50_009</identifiant><valeur>84.00"
                 "</valeur></rubrique_associee><rubrique_associee><identifiant>S21_G00_50_001"
                 "</identifiant><valeur>2022-08-31</valeur></rubrique_associee>")
    anomaly = _anomaly("TST01", "Vous n'avez pas appliqué les taux valides communiqués",
                       nir="2850375112034", rubrique="S21_G00_50_006", valeur="20.00",
                       associees=associees)
    content = ('<?xml version="1.0" encoding="UTF-8"?>\n<ns2:rapport identifiant='
               '"900000000000000950" type="CRM taux sur taux" profil="DSN" version="v02r03" '
               'xmlns:ns2="http://www.gip-mds.fr/">' + _decl(anomalies=anomaly) + "</ns2:rapport>")
    outcome = _process(seeded, engine, content)
    assert outcome.outcome == "archived", outcome.reason
    assert outcome.summary["type"] == "taux_sur_taux"
    assert outcome.summary["81234567600017"] == "anomalies"
    rows = _rows(seeded)
    found = rows[rows["statut"] == "anomalie"]
    assert found[["matricule", "nom", "nir_masque", "anomalie_code"]].values.tolist() == [
        ["A001", "DUPONT", "28503*", "TST01"]]
    assert outcome.report_path.name == "retour.anomalies.csv"
    with engine.connect() as conn:
        assert conn.execute(select(crm_anomalie.c.rubrique)).scalar() == "S21.G00.50.006"
        assert conn.execute(select(crm_declaration.c.kind)).scalar() == "taux_sur_taux"
    assert rate_rows(engine)[4:] == []


def test_two_crm_financiers_without_identifiant_are_both_recorded(seeded: Settings,
                                                                   engine: Engine) -> None:
    for name, code in (("a.xml", "CBS03"), ("b.xml", "CBS04")):
        content = _rapport(_decl(anomalies=_anomaly(code, "IBAN inconnu")),
                           root_type="CRM financier", identifiant=None)
        outcome = _process(seeded, engine, content, f"crm_nominatif/travail/2022_09/{name}")
        assert outcome.summary["81234567600017"] == "anomalies"


@pytest.mark.parametrize(("root_type", "words"), [
    ("CRACOSS", "URSSAF"), ("AEE", "AEE"), ("ARE", "ARE"), ("BAN", "BAN"), ("CCO", "CCO"),
    ("20", "identification"), ("Bilan inconnu", "inconnu"),
])
def test_other_reports_are_quarantined_with_what_they_are(
        seeded: Settings, engine: Engine, root_type: str, words: str) -> None:
    outcome = _process(seeded, engine, _rapport(_decl(), root_type=root_type))
    assert outcome.outcome == "quarantined"
    reason = (seeded.quarantine / f"{REL}.reason.txt").read_text()
    assert "Code : type_rapport" in reason and words in reason and "Que faire" in reason


def test_neores_return_is_quarantined_with_what_it_is(seeded: Settings, engine: Engine) -> None:
    content = '<GIPMDS xmlns="https://gipmds/1.0"><Retour><Nature>121</Nature></Retour></GIPMDS>'
    outcome = _process(seeded, engine, content)
    assert outcome.outcome == "quarantined"
    reason = (seeded.quarantine / f"{REL}.reason.txt").read_text()
    assert "Code : neores" in reason and "NEOReS" in reason


# --- defect: the duplicate-person key -----------------------------------------------------------

nir_any = st.integers(10**12, 9 * 10**12 - 1).map(str)  # the whole range, first digit 1 to 8


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 4), nir_any), min_size=1, max_size=30))
@example([(2, "7999999999999"), (3, "7999999999999")])
@example([(1, "4400000000000"), (3, "4400000000000")])
def test_one_person_per_declaration_and_nir_is_kept(people: list[tuple[int, str]]) -> None:
    decls = pd.DataFrame([{"decl": d, "siren": "812345676", "nic": "00017",
                           "siret": "81234567600017", "periode": "2022-07-01", "rang": str(d),
                           "etat": "OK"} for d in range(1, 5)])
    salaries = pd.DataFrame([{"decl": d, "siret": "81234567600017", "nir": nir, "ntt": "",
                              "matricule": "", "taux": "1.00", "futur_taux": "",
                              "futur_date_effet": ""} for d, nir in people])
    crm = crm_format.Crm(kind="nominatif", attributes={"identifiant": "1", "type": "94"},
                         declarations=decls, salaries=salaries,
                         anomalies=pd.DataFrame(columns=["decl", *crm_format.ANOMALIE.names]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.xml"
        crm_format.write(crm, path)
        parsed = crm_format.read(path)
    got = sorted(zip(parsed.salaries["decl"], parsed.salaries["nir"], strict=True))
    assert got == sorted(set(people))


def test_refused_deposit_without_declaration_is_archived(seeded: Settings,
                                                         engine: Engine) -> None:
    content = _rapport(root_type="CRM financier", identifiant=None, etat="KO").replace(
        "</envoi_bilan>", "</envoi_bilan><envoi_anomalie><description><code>CBS03</code>"
        "<categorie>bloquant</categorie><message>IBAN inconnu</message></description>"
        "</envoi_anomalie>")
    outcome = _process(seeded, engine, content)
    assert outcome.outcome == "archived", outcome.reason
    page = _html(seeded)
    assert "Anomalies de l'envoi : CBS03 IBAN inconnu" in page
    assert "aucune déclaration" in page
