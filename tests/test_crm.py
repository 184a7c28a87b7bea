"""CRM nominatif / financier: golden example of the spec (§8), every pitfall of §7, every
quarantine reason, the hold rule and idempotency. Runs on SQLite and PostgreSQL.
"""

import os
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from gedflow.crm.handler import handle_crm
from gedflow.crm.reconcile import valid_until
from gedflow.crm.taux import rates_on
from gedflow.db.tables import crm_anomalie, crm_declaration, salarie, taux
from gedflow.formats import crm as crm_format
from gedflow.inbox import Outcome, scan
from gedflow.intake import claim, process
from gedflow.settings import Settings

from .conftest import EXAMPLES, TESTS
from .golden import assert_golden

SPEC_CRM = EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml"
GOLDEN = TESTS / "data/crm"
REL = "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml"


def drop(settings: Settings, rel: str, content: bytes | str) -> None:
    path = settings.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


def run(settings: Settings, engine: Engine) -> list[Outcome]:
    return [process(settings, engine, c, handle_crm)
            for p in scan(settings) if (c := claim(settings, engine, p))]


def report(settings: Settings, rel: str = REL, period: str = "2022_08") -> pd.DataFrame:
    stem = Path(rel).stem
    return pd.read_csv(settings.outbox / "crm_nominatif" / period / f"{stem}.rapprochement.csv",
                       sep=";", dtype=str, keep_default_na=False)


def rate_rows(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(salarie.c.matricule, taux.c.taux_pas, taux.c.type_taux, taux.c.identifiant_crm,
                   taux.c.date_effet, taux.c.valide_jusqu_au)
            .join(taux, taux.c.salarie_id == salarie.c.id).order_by(taux.c.id))]


def spec_xml() -> str:
    return SPEC_CRM.read_text(encoding="utf-8")


# --- the spec's worked example (§8) -------------------------------------------------------------

def test_spec_example_gives_the_expected_outcomes(seeded: Settings, engine: Engine) -> None:
    drop(seeded, REL, SPEC_CRM.read_bytes())
    [outcome] = run(seeded, engine)
    assert outcome.outcome == "archived", outcome.reason
    got = (seeded.outbox / "crm_nominatif/2022_08/crm_2022_07.rapprochement.csv").read_text()
    assert_golden(got, "crm/spec_example.rapprochement.csv")
    assert rate_rows(engine)[4:] == [
        ("A002", "5.10", "01", "900000000000000417", date(2022, 8, 13), date(2022, 10, 31)),
        ("B001", "1.20", "01", "900000000000000417", date(2022, 9, 1), date(2022, 10, 31)),
    ]
    html = (seeded.outbox / "crm_nominatif/2022_08/crm_2022_07.rapprochement.html").read_text()
    assert html.index("modifie") < html.index("conforme")  # differences first
    assert "13/08/2022 (donnée par la configuration)" in html
    assert not re.search(r"\d{13}", got.replace("900000000000000417", "")
                         .replace("81234567600017", "").replace("42198765200029", ""))


def test_same_crm_again_changes_nothing(seeded: Settings, engine: Engine) -> None:
    drop(seeded, REL, SPEC_CRM.read_bytes())
    run(seeded, engine)
    before = rate_rows(engine)
    # same CRM, bytes changed (re-indented): not a file duplicate, but the same CRM identifiant
    drop(seeded, "crm_nominatif/travail/2022_08/copie.xml", spec_xml().replace("   ", "  "))
    [outcome] = run(seeded, engine)
    assert outcome.outcome == "archived"
    assert rate_rows(engine) == before
    assert set(outcome.summary[s] for s in ("81234567600017", "42198765200029")) == {
        "deja_integre"}
    # same bytes under another name: a file duplicate, quarantined
    drop(seeded, "crm_nominatif/travail/2022_08/encore.xml", SPEC_CRM.read_bytes())
    [dup] = run(seeded, engine)
    assert dup.outcome == "duplicate"


def test_availability_from_file_date(seeded: Settings, engine: Engine) -> None:
    settings = seeded.__class__(**{**seeded.__dict__, "crm_disponibilite": ""})
    drop(settings, REL, SPEC_CRM.read_bytes())
    when = pd.Timestamp("2022-09-14 10:00", tz="Europe/Paris").timestamp()
    os.utime(settings.inbox / REL, (when, when))
    [outcome] = run(settings, engine)
    rows = report(settings)
    assert set(rows.loc[rows["statut"] == "modifie", "date_effet"]) == {"2022-09-14"}
    assert set(rows.loc[rows["statut"] == "modifie", "valide_jusqu_au"]) == {"2022-11-30"}
    html = next((settings.outbox / "crm_nominatif/2022_08").glob("*.html")).read_text()
    assert "14/09/2022 (date de modification du fichier)" in html


@pytest.mark.parametrize(("available", "until"), [
    (date(2022, 8, 13), date(2022, 10, 31)), (date(2022, 2, 13), date(2022, 4, 30)),
    (date(2022, 11, 30), date(2023, 1, 31)), (date(2023, 12, 1), date(2024, 2, 29)),
])
def test_valid_until_end_of_second_month(available: date, until: date) -> None:
    assert valid_until(available) == until


# --- reconciliation outcomes --------------------------------------------------------------------

def _crm(people: str, extra_decl: str = "", siren: str = "812345676", nic: str = "00017",
         identifiant: str = "900000000000000500", root_type: str = "CRM nominatif",
         prefix: str = "ns2") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{prefix}:rapport xmlns:{prefix}='
        f'"http://www.gip-mds.fr/" profil="DSN" type="{root_type}" version="v01r07" '
        f'identifiant="{identifiant}"><envoi><envoi_bilan><envoi_etat>OK</envoi_etat>'
        f'</envoi_bilan></envoi><declaration><declaration_identification><rang>1</rang>'
        f'<mois>01082022</mois><SIREN>{siren}</SIREN><nic_affectation>{nic}</nic_affectation>'
        f'</declaration_identification><declaration_bilan><etat>OK</etat>{people}'
        f'</declaration_bilan>{extra_decl}</declaration></{prefix}:rapport>'
    )


def _p(nir: str = "", rate: str = "", matricule: str = "", ntt: str = "", future: str = "") -> str:
    inner = f"<NIR>{nir}</NIR>" if nir else ""
    inner += f"<NTT>{ntt}</NTT>" if ntt else ""
    inner += f"<matricule>{matricule}</matricule>" if matricule else ""
    inner += f"<taux_imposition_PAS>{rate}</taux_imposition_PAS>"
    return f"<salarie>{inner}{future}</salarie>"


def _statuts(settings: Settings, rel: str = "crm_nominatif/travail/2022_09/c.xml") -> list:
    rows = report(settings, rel, "2022_09")
    return rows[["matricule", "cle", "statut", "taux_registre", "taux_crm"]].values.tolist()


def test_every_statut_and_the_key_that_matched(seeded: Settings, engine: Engine) -> None:
    people = "".join([
        _p("2850375112034", "7.5"),  # A001 by NIR; 7.5 == registry 7.50 (Decimal, not text)
        _p("1790169123045", "0.00", "A002"),  # A002: 0.00 is a rate, not "no rate"
        _p(ntt="NTT\n   2022A003", rate="2.00", matricule="A003"),  # NTT, by matricule: nouveau
        _p("1880599350123", "3.00", "Z999"),  # unknown to the registry
    ])
    drop(seeded, "crm_nominatif/travail/2022_09/c.xml", _crm(people))
    [outcome] = run(seeded, engine)
    assert outcome.outcome == "archived", outcome.reason
    assert _statuts(seeded) == [
        ["A001", "nir", "conforme", "7.50", "7.50"],
        ["A002", "nir", "modifie", "4.30", "0.00"],
        ["A003", "matricule", "nouveau", "", "2.00"],
        ["Z999", "", "inconnu_registre", "", "3.00"],
    ]


def test_registry_salarie_missing_from_the_crm(seeded: Settings, engine: Engine) -> None:
    drop(seeded, "crm_nominatif/travail/2022_09/c.xml", _crm(_p("2850375112034", "7.50")))
    run(seeded, engine)
    assert [r[:3] for r in _statuts(seeded)] == [
        ["A001", "nir", "conforme"], ["A002", "", "absent_crm"], ["A003", "", "absent_crm"]]


def test_nir_with_key_and_corsica(seeded: Settings, engine: Engine) -> None:
    with engine.begin() as conn:  # a Corsican-born salarié, registry NIR with its key
        emp = conn.execute(select(salarie.c.employeur_id).limit(1)).scalar()
        conn.execute(salarie.insert().values(employeur_id=emp, matricule="C001", nom="CORSE",
                                             nir="179022A12304512"))
    crm = _crm(_p("179022A123045", "1.00") + _p("285037511203464", "7.50"))
    drop(seeded, "crm_nominatif/travail/2022_09/c.xml", crm)
    [outcome] = run(seeded, engine)
    assert outcome.outcome == "archived", outcome.reason
    got = {r[0]: r[1:3] for r in _statuts(seeded)}
    assert got["C001"] == ["nir", "nouveau"] and got["A001"] == ["nir", "conforme"]


def test_duplicate_nir_in_one_declaration_is_kept_once(seeded: Settings, engine: Engine) -> None:
    crm = _crm(_p("2850375112034", "7.50") + _p("2850375112034", "8.00"))
    drop(seeded, "crm_nominatif/travail/2022_09/c.xml", crm)
    [outcome] = run(seeded, engine)
    rows = report(seeded, "crm_nominatif/travail/2022_09/c.xml", "2022_09")
    assert (rows["matricule"] == "A001").sum() == 1
    html = next((seeded.outbox / "crm_nominatif/2022_09").glob("*.html")).read_text()
    assert "présent plusieurs fois avec des taux différents (7.50, 8.00)" in html
    assert "2850375112034" not in html


def test_anomaly_linked_to_its_person(seeded: Settings, engine: Engine) -> None:
    anomaly = ("<declaration_anomalie><description><code>ADR05</code><categorie>non-bloquant"
               "</categorie><message>localité non reconnue</message></description><environnement>"
               "<salarie origine='DSN'><NIR>1790169123045</NIR></salarie></environnement>"
               "</declaration_anomalie><declaration_anomalie><description><code>TST01</code>"
               "<message>aucun taux appliqué</message></description></declaration_anomalie>")
    drop(seeded, "crm_nominatif/travail/2022_09/c.xml",
         _crm(_p("1790169123045", "4.30"), anomaly))
    run(seeded, engine)
    rows = report(seeded, "crm_nominatif/travail/2022_09/c.xml", "2022_09")
    anomalies = rows[rows["statut"] == "anomalie"]
    assert anomalies[["matricule", "nom", "cle", "anomalie_code"]].values.tolist() == [
        ["", "", "", "TST01"], ["A002", "MARTIN", "nir", "ADR05"]]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crm_anomalie)).scalar() == 2


def test_crm_held_when_people_without_rate_jump(seeded: Settings, engine: Engine) -> None:
    first = _crm(_p("2850375112034", "7.50") + _p("1790169123045", "4.30"))
    drop(seeded, "crm_nominatif/travail/2022_08/a.xml", first)
    run(seeded, engine)
    before = rate_rows(engine)
    second = _crm(_p("2850375112034", "") + _p("1790169123045", ""),
                  identifiant="900000000000000600")
    drop(seeded, "crm_nominatif/travail/2022_09/c.xml", second)
    [outcome] = run(seeded, engine)
    assert outcome.summary["81234567600017"] == "retenu"
    assert rate_rows(engine) == before  # previous rates kept
    html = next((seeded.outbox / "crm_nominatif/2022_09").glob("*.html")).read_text()
    assert "CRM retenu : 100% des personnes sans taux contre 0%" in html
    with engine.connect() as conn:
        statuts = conn.execute(select(crm_declaration.c.statut).order_by(crm_declaration.c.id))
        assert statuts.scalars().all() == ["integre", "retenu"]


def test_crm_financier_anomalies(seeded: Settings, engine: Engine) -> None:
    anomaly = ("<declaration_anomalie><description><code>PAI99</code><categorie>non-bloquant"
               "</categorie><message>Coordonnées bancaires non connues.</message></description>"
               "<valeurs><rubrique_declenchante><identifiant>S21.G00.20.004</identifiant>"
               "<valeur>FR76XXXX1234</valeur></rubrique_declenchante></valeurs>"
               "</declaration_anomalie>")
    drop(seeded, "crm_nominatif/travail/2022_08/fin.xml",
         _crm("", anomaly, root_type="CRM paiement", identifiant="900000000000000931"))
    [outcome] = run(seeded, engine)
    assert outcome.outcome == "archived", outcome.reason
    assert outcome.report_path.name == "fin.anomalies.csv"
    assert outcome.report_path.read_text().splitlines() == [
        "siret;periode;identifiant_crm;code;categorie;message",
        "81234567600017;2022-08-01;900000000000000931;PAI99;non-bloquant;"
        "Coordonnées bancaires non connues."]
    assert outcome.summary["81234567600017"] == "anomalies"


# --- quarantine reasons -------------------------------------------------------------------------

XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<ns2:rapport xmlns:ns2="http://www.gip-mds.fr/">&x;</ns2:rapport>')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
          '<rapport>&b;</rapport>')


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        (b"", "vide", "fichier vide"),
        (b"%PDF-1.7\n...", "pas_xml", "PDF"),
        (b"<!DOCTYPE html><html><body>CRM</body></html>", "html", "page HTML"),
        (b"S10.G00.00.001,'LOGICIEL'\nS10.G00.00.002,'EDITEUR'\n", "dsn", "fichier DSN"),
        (b"PK\x03\x04zip", "pas_xml", "ZIP"),
        (b"taux;nir\n7.5;1\n", "pas_xml", "pas un fichier XML"),
        (XXE.encode(), "doctype", "DOCTYPE"),
        (LAUGHS.encode(), "doctype", "DOCTYPE"),
        (_crm(_p("2850375112034", "7.50"))[:-40].encode(), "tronque", "tronqué"),
        (_crm(_p("2850375112034", "7.50")).replace("OK", "ÉTÉ").encode("latin-1"),
         "encodage", "encodage"),
        (_crm("", root_type="AEE").encode(), "type_rapport", "type=AEE"),
        (b'<?xml version="1.0"?><rapport xmlns="urn:other"/>', "racine", "élément racine"),
        (b'<?xml version="1.0"?><ns2:rapport xmlns:ns2="http://www.gip-mds.fr/"/>', "vide",
         "aucune déclaration"),
        (("<a>" * 300 + "</a>" * 300).encode(), "racine", "élément racine"),
        (_crm("<salarie>" + "<x>" * 300 + "</x>" * 300 + "</salarie>").encode(),
         "xml_invalide", "mal formé"),
    ],
)
def test_bad_files_are_quarantined_with_a_reason(
    seeded: Settings, engine: Engine, content: bytes, code: str, words: str
) -> None:
    drop(seeded, "crm_nominatif/travail/2022_08/bad.xml", content)
    [outcome] = run(seeded, engine)
    assert outcome.outcome == "quarantined"
    reason = (seeded.quarantine / "crm_nominatif/travail/2022_08/bad.xml.reason.txt").read_text()
    assert f"Code : {code}" in reason and words in reason, reason
    assert "Que faire" in reason
    assert "root:" not in reason  # the XXE read nothing
    assert rate_rows(engine)[4:] == []


# --- rates on a date ----------------------------------------------------------------------------

def test_rates_on_a_date_with_expiry_warnings(seeded: Settings, engine: Engine) -> None:
    drop(seeded, REL, SPEC_CRM.read_bytes())
    run(seeded, engine)
    with engine.connect() as conn:
        october = rates_on(conn, "81234567600017", date(2022, 10, 20))
        november = rates_on(conn, "81234567600017", date(2022, 11, 2))
        september = rates_on(conn, "42198765200029", date(2022, 9, 5))
        august = rates_on(conn, "42198765200029", date(2022, 8, 20))
    columns = ["matricule", "taux", "type", "identifiant", "alerte"]
    assert [[r[c] for c in columns] for r in october] == [
        ["A001", "7.50", "01", "900000000000000417", "expire bientôt"],
        ["A002", "5.10", "01", "900000000000000417", "expire bientôt"],
        ["A003", "", "13", "", "barème (pas de taux DGFiP)"],
    ]
    assert [r["alerte"] for r in november][:2] == ["taux expiré : grille par défaut"] * 2
    assert [r["taux"] for r in september] == ["1.20"] and [r["taux"] for r in august] == ["0.00"]


def test_example_file_is_the_spec_one() -> None:
    crm = crm_format.read(SPEC_CRM)
    assert crm.identifiant == "900000000000000417"
    assert crm.salaries["ntt"].tolist() == ["", "", "NTT2022A003", ""]
