"""A DSN's controls through the intake: its reports, artifact and alerts; `gedflow dsn
controle`; and the same reports whatever the order the DSN, its CRM and its AR came in. The
employer, hires and AR are those of the DPAE tests (dpae_support); the DSN and the CRM are
written here."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from flows.cli import app
from flows.sweep import dispatch_direct
from gedflow.board import boards
from gedflow.db.engine import migrate
from gedflow.db.tables import contrat, salarie
from gedflow.dpae.suivi import dsn_without_dpae
from gedflow.handler import CONTROL_EVENT, MISSING_DPAE_EVENT, TAUX_SUR_TAUX_EVENT
from gedflow.inbox import scan
from gedflow.intake import claim
from gedflow.registry.importer import import_csv
from gedflow.settings import INBOX_FOLDERS, OUTBOX_FOLDERS, Settings, load_settings

from .conftest import EXAMPLES
from .dpae_support import HIRE_1, HIRE_2, run
from .dsn_support import Person, declaration, dsn_bytes, envoi
from .golden import assert_golden
from .test_dpae_ar import _ar

SIREN, NIC = "123456782", "00010"
SIRET = SIREN + NIC
CRM_ID = "900000000000000501"
NIR_1, NIR_2 = HIRE_1["nir"][:13], HIRE_2["nir"][:13]


def _dsn() -> bytes:
    """March 2025: E001 (CRM rate 5.00) and E002 (barème), both hired on the 10th."""
    first = Person(nir=NIR_1, nom="MARTINEAU", prenoms="CLAIRE ANNE", matricule="E001",
                   sexe="02", date_naissance="15031990",
                   contrats=[{"date_debut": "10032025", "nature": "01", "numero": "00001"}],
                   versements=[{"date_versement": "31032025",
                                "remuneration_nette_fiscale": "2000.00", "taux": "5.00",
                                "type_taux": "01", "identifiant_taux": CRM_ID,
                                "montant_pas": "100.00", "montant_soumis": "2000.00"}])
    second = Person(nir=NIR_2, nom="BENALI", prenoms="KARIM", matricule="E002",
                    date_naissance="02111985",
                    contrats=[{"date_debut": "10032025", "nature": "02", "numero": "00002",
                               "fin_prevue": "30062025"}],
                    versements=[{"date_versement": "31032025",
                                 "remuneration_nette_fiscale": "1500.00", "taux": "0.00",
                                 "type_taux": "13", "montant_pas": "0.00",
                                 "montant_soumis": "1500.00"}])
    return dsn_bytes(envoi(declaration([first, second], siren=SIREN, nic=NIC, mois="01032025",
                                       constitution="05042025", pas_total="100.00")))


def _crm() -> bytes:
    """The CRM nominatif of February 2025: E001's rate, 5.00."""
    return ("<?xml version='1.0' encoding='UTF-8'?>\n<ns2:rapport xmlns:ns2=\"http://www.gip-mds"
            f".fr/\" type=\"CRM nominatif\" identifiant=\"{CRM_ID}\"><declaration>"
            f"<declaration_identification><mois>01022025</mois><SIREN>{SIREN}</SIREN>"
            f"<nic_affectation>{NIC}</nic_affectation></declaration_identification>"
            "<declaration_bilan><etat>OK</etat><salarie><NIR>" + NIR_1 + "</NIR><matricule>"
            "E001</matricule><taux_imposition_PAS>5.00</taux_imposition_PAS></salarie>"
            "</declaration_bilan></declaration></ns2:rapport>").encode()


def _root(base: Path, url: str | None = None) -> tuple[Settings, Engine]:
    """A gedflow root with the example registry, on `url` (default: a new SQLite file)."""
    root = base / "root"
    for rel in INBOX_FOLDERS:
        (root / "inbox" / rel).mkdir(parents=True)
    for rel in OUTBOX_FOLDERS:
        (root / "outbox" / rel).mkdir(parents=True)
    url = url or f"sqlite:///{base / 'registre.sqlite'}"
    (root / "gedflow.toml").write_text(f'[gedflow]\ndatabase_url = "{url}"\nsettle_seconds = 0\n')
    settings = load_settings(root)
    engine = migrate(url)
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    return settings, engine


def _drop(settings: Settings, rel: str, raw: bytes, day: str) -> None:
    path = settings.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    stamp = datetime.fromisoformat(f"{day}T12:00:00").timestamp()
    os.utime(path, (stamp, stamp))  # a CRM's availability is its file's date


def _sweep(settings: Settings, engine: Engine) -> list:
    claims = [c for p in scan(settings, now=9e12) if (c := claim(settings, engine, p))]
    return dispatch_direct(settings, claims)


def _inputs(settings: Settings, engine: Engine) -> list[tuple[str, bytes, str]]:
    """The three files, in date order: the AR (E001 accepted, E002 rejected), the CRM, the
    DSN. The DPAE were built before (the DPAE side)."""
    built = run(engine, settings, HIRE_1, HIRE_2, mode="reel", fmt="flat")
    ar = _ar(built.files["dpae.txt"].read_bytes(), [("00", "K7Q2M", "00"), ("00", "", "21")])
    return [("AR/dpae_ar.txt", ("\n".join(ar) + "\n").encode("iso-8859-1"), "2025-03-05"),
            ("crm_nominatif/travail/2025_02/crm_2025_02.xml", _crm(), "2025-03-12"),
            ("dsn/ATELIERS-DUPRE/dsn_2025_03.dsn", _dsn(), "2025-04-05")]


REPORTS = ("controle_pas.csv", "embauches.csv", "controle.html")


def _reports(settings: Settings) -> dict[str, bytes]:
    folder = settings.outbox / "dsn" / "2025_03"
    return {name: (folder / f"dsn_2025_03.{name}").read_bytes() for name in REPORTS}


def _csv(settings: Settings, name: str) -> pd.DataFrame:
    return pd.read_csv(settings.outbox / "dsn" / "2025_03" / f"dsn_2025_03.{name}", sep=";",
                       dtype=str, keep_default_na=False)


@pytest.mark.parametrize("with_ar", [True, False])
def test_order_does_not_matter(tmp_path: Path, with_ar: bool) -> None:
    """Dropped one after the other in date order, or together (newest first): the same
    reports. The sweep takes the DSN before the CRM and the AR, which control it again."""
    one_by_one, engine = _root(tmp_path / "a")
    for rel, raw, day in _inputs(one_by_one, engine)[0 if with_ar else 1:]:
        _drop(one_by_one, rel, raw, day)
        [outcome] = _sweep(one_by_one, engine)
        assert outcome.outcome == "archived", outcome.reason
    together, engine2 = _root(tmp_path / "b")
    for rel, raw, day in reversed(_inputs(together, engine2)[0 if with_ar else 1:]):
        _drop(together, rel, raw, day)
    assert {o.outcome for o in _sweep(together, engine2)} == {"archived"}
    assert _reports(together) == _reports(one_by_one)
    pas = _csv(together, "controle_pas.csv")
    assert pas[["matricule", "code"]].values.tolist() == [["E001", "CONFORME"],
                                                          ["E002", "CONFORME"]]
    assert pas["taux_crm"].tolist() == ["5.00", ""]
    hires = _csv(together, "embauches.csv")
    assert hires[["matricule", "dpae_statut", "code"]].values.tolist() == ([
        ["E002", "erreur", "DPAE_REJETEE"], ["E001", "enregistree", "DPAE_CONFIRMEE"]]
        if with_ar else [["E001", "pret_a_envoyer", "DPAE_MANQUANTE"],
                         ["E002", "pret_a_envoyer", "DPAE_MANQUANTE"]])


def test_dropped_dsn_is_controlled_with_its_artifact_and_alerts(tmp_path: Path,
                                                               db_url: str) -> None:
    settings, engine = _root(tmp_path, db_url)
    _drop(settings, "dsn/ATELIERS-DUPRE/dsn_2025_03.dsn", _dsn(), "2025-04-05")
    [outcome] = _sweep(settings, engine)
    assert outcome.outcome == "archived", outcome.reason
    pas, hires = _csv(settings, "controle_pas.csv"), _csv(settings, "embauches.csv")
    assert pas[["matricule", "code", "gravite"]].values.tolist() == [
        ["E001", "TAUX_SANS_CRM", "avertissement"], ["E002", "CONFORME", "info"]]
    assert set(hires["code"]) == {"DPAE_MANQUANTE"}
    page = (settings.outbox / "dsn/2025_03/dsn_2025_03.controle.html").read_text()
    assert page.index("DPAE_MANQUANTE") < page.index("TAUX_SANS_CRM")  # erreurs first
    for name in REPORTS:
        mode = (settings.outbox / f"dsn/2025_03/dsn_2025_03.{name}").stat().st_mode & 0o777
        assert mode == 0o600, name
    keys = {a.key: a for a in outcome.artifacts}
    table = keys[f"dsn-controle-{SIRET}-2025-03"].data
    assert [r["code"] for r in table][:2] == ["DPAE_MANQUANTE", "DPAE_MANQUANTE"]
    assert {a.event for a in outcome.alerts} == {CONTROL_EVENT, MISSING_DPAE_EVENT}
    assert all(NIR_1 not in str(a.payload) for a in outcome.alerts)


def test_cli_controle_changes_nothing_and_exits_1_on_an_erreur(tmp_path: Path) -> None:
    settings, engine = _root(tmp_path)
    dsn = tmp_path / "dsn_2025_03.dsn"
    dsn.write_bytes(_dsn())
    out = tmp_path / "rapports"
    result = CliRunner().invoke(app, ["dsn", "controle", str(dsn), "--sortie", str(out),
                                      "--root", str(settings.root)])
    assert result.exit_code == 1, result.output
    assert "DPAE_MANQUANTE" in result.output and NIR_1 not in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"dsn_2025_03.{n}" for n in REPORTS)
    assert not any((settings.outbox / "dsn").rglob("*.csv"))  # nothing imported nor reported


def test_cli_controle_reads_the_registry_copies_as_the_intake_reads_the_tables(
        tmp_path: Path, db_url: str) -> None:
    """`gedflow dsn controle` reads the registry's columnar copies, the intake the tables: the
    same reports, from a copy built, then topped up with the next CRM's rates."""
    settings, engine = _root(tmp_path, db_url)
    *before, (rel, raw, day) = _inputs(settings, engine)
    for earlier in before:  # the AR and the CRM
        _drop(settings, *earlier)
    assert {o.outcome for o in _sweep(settings, engine)} == {"archived"}
    dsn = tmp_path / "dsn_2025_03.dsn"
    dsn.write_bytes(raw)

    def cli(out: Path) -> dict[str, bytes]:
        CliRunner().invoke(app, ["dsn", "controle", str(dsn), "--sortie", str(out),
                                 "--root", str(settings.root)])
        return {name: (out / f"dsn_2025_03.{name}").read_bytes() for name in REPORTS}

    first, again = cli(tmp_path / "un"), cli(tmp_path / "deux")  # built, then read
    assert first == again
    _drop(settings, rel, raw, day)
    assert {o.outcome for o in _sweep(settings, engine)} == {"archived"}
    assert _csvs(_reports(settings)) == _csvs(first)
    later = (_crm().replace(b"01022025", b"01032025").replace(b"5.00", b"6.00")
             .replace(CRM_ID.encode(), b"900000000000000502"))
    _drop(settings, "crm_nominatif/travail/2025_03/crm_2025_03.xml", later, "2025-03-20")
    assert {o.outcome for o in _sweep(settings, engine)} == {"archived"}  # controlled again
    assert _csvs(cli(tmp_path / "trois")) == _csvs(_reports(settings))  # the copy topped up
    assert "TAUX_DIFFERENT" in _csv(settings, "controle_pas.csv")["code"].tolist()


def _csvs(reports: dict[str, bytes]) -> dict[str, bytes]:
    return {name: raw for name, raw in reports.items() if name.endswith(".csv")}


def _taux_sur_taux() -> bytes:
    """The DGFiP's return of the March DSN: E001 applied 4.00 (80.00 of PAS) on 31/03."""
    associated = "".join(
        f"<rubrique_associee><identifiant>{code}</identifiant><valeur>{value}</valeur>"
        "</rubrique_associee>"
        for code, value in (("S21_G00_50_009", "80.00"), ("S21_G00_50_001", "2025-03-31"),
                            ("S21_G00_50_003", "1")))
    anomaly = ("<declaration_anomalie><description><code>TST01</code><categorie>non-bloquant"
               "</categorie><message>Vous n'avez pas appliqué les taux valides communiqués par "
               "l'administration fiscale</message></description><valeurs><rubrique_declenchante>"
               "<identifiant>S21_G00_50_006</identifiant><valeur>4.00</valeur>"
               f"</rubrique_declenchante>{associated}</valeurs><environnement><salarie><NIR>"
               f"{NIR_1}</NIR><nom_famille>MARTINEAU</nom_famille><prenoms>CLAIRE ANNE</prenoms>"
               "</salarie></environnement></declaration_anomalie>")
    return ("<?xml version='1.0' encoding='UTF-8'?>\n<ns2:rapport xmlns:ns2=\"http://www.gip-mds"
            ".fr/\" type=\"CRM taux sur taux\" profil=\"DSN\" identifiant=\"900000000000000950\">"
            f"<declaration><declaration_identification><mois>01032025</mois><SIREN>{SIREN}"
            f"</SIREN><nic_affectation>{NIC}</nic_affectation></declaration_identification>"
            f"<declaration_bilan><etat>OK</etat></declaration_bilan>{anomaly}</declaration>"
            "</ns2:rapport>").encode()


def test_taux_sur_taux_is_tied_to_the_salarie_and_the_crm_rate_then(tmp_path: Path) -> None:
    settings, engine = _root(tmp_path)
    run(engine, settings, HIRE_1, HIRE_2, mode="reel", fmt="flat")  # E001 in the registry
    _drop(settings, "crm_nominatif/travail/2025_02/crm_2025_02.xml", _crm(), "2025-03-12")
    _drop(settings, "crm_nominatif/travail/2025_04/tst_2025_03.xml", _taux_sur_taux(),
          "2025-05-20")
    outcomes = _sweep(settings, engine)
    assert [o.outcome for o in outcomes] == ["archived", "archived"], outcomes
    found = pd.read_csv(settings.outbox / "crm_nominatif/2025_04/tst_2025_03.taux_sur_taux.csv",
                        sep=";", dtype=str, keep_default_na=False)
    assert found.to_dict("records") == [{
        "siret": SIRET, "matricule": "E001", "nom": "MARTINEAU", "prenoms": "CLAIRE ANNE",
        "nir_masque": NIR_1[:5] + "*", "date_versement": "2025-03-31", "taux_applique": "4.00",
        "montant_pas": "80.00", "taux_crm": "5.00", "identifiant_crm": CRM_ID, "code": "TST01",
        "message": "Vous n'avez pas appliqué les taux valides communiqués par l'administration "
                   "fiscale"}]
    [alert] = outcomes[1].alerts
    assert alert.event == TAUX_SUR_TAUX_EVENT and alert.payload["sirets"] == SIRET


def test_suivi_lists_the_dsn_hires_still_without_dpae(tmp_path: Path, db_url: str) -> None:
    settings, engine = _root(tmp_path, db_url)
    _drop(settings, "dsn/ATELIERS-DUPRE/dsn_2025_03.dsn", _dsn(), "2025-04-05")
    _sweep(settings, engine)
    missing = dsn_without_dpae(engine)
    assert [[r["siret"], r["matricule"], r["date_embauche"]] for r in missing] == [
        [SIRET, "E001", "2025-03-10"], [SIRET, "E002", "2025-03-10"]]
    assert "nir" not in missing[0]
    with engine.begin() as conn:  # E001's DPAE sent since
        conn.execute(insert(contrat).values(
            salarie_id=select(salarie.c.id).where(salarie.c.matricule == "E001")
            .scalar_subquery(), date_embauche=date(2025, 3, 10), heure_embauche="08:30",
            nature="CDI", statut="envoye", created_at=datetime.now(UTC)))
    assert [r["matricule"] for r in dsn_without_dpae(engine)] == ["E002"]
    board = next(b for b in boards(engine) if b.key == "etat-ateliers-dupre-2025-03")
    assert "| embauches sans DPAE | 2 |" in board.markdown
    assert "| contrôle DSN : erreurs | 2 |" in board.markdown


def test_the_examples_walk_through(tmp_path: Path) -> None:
    """The README's walk-through with every example, in its order: the DSN's controls and the
    AR's compte rendu held to golden files."""
    settings, engine = _root(tmp_path)
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + 'crm_disponibilite = "2022-08-13"\n'
                    'dpae_maintenant = "2025-03-03T10:15"\n')
    settings = load_settings(settings.root)
    steps = [("crm_nominatif/travail/2022/2022_08/crm_2022_07.xml",
              "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml"),
             ("dsn/dsn_2022_09.dsn", "dsn/ASSO-TILLEULS/dsn_2022_09.dsn"),
             ("dpae/embauches_exemple.csv", "dpae/embauches_exemple.csv"),
             ("AR/dpae.txt", "AR/dpae.txt")]
    for example, rel in steps:
        _drop(settings, rel, (EXAMPLES / example).read_bytes(), "2022-08-13")
        [outcome] = _sweep(settings, engine)
        assert outcome.outcome == "archived", (example, outcome.reason)
    folder = settings.outbox / "dsn/2022_09"
    for name in ("controle_pas.csv", "embauches.csv", "controle.html", "dsn.html"):
        assert_golden((folder / f"dsn_2022_09.{name}").read_bytes(), f"dsn/example.{name}")
    crm = settings.outbox / "crm_nominatif/2022_08/crm_2022_07.rapprochement.html"
    assert_golden(crm.read_bytes(), "crm/example.rapprochement.html")
    assert_golden(outcome.report_path.read_bytes(), "dpae/example.compte_rendu.csv")
    assert_golden((outcome.report_path.parent / "compte_rendu.html").read_bytes(),
                  "dpae/example.compte_rendu.html")
