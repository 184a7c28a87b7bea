"""The API DPAE channel against a local server: authentication, one hire per gzip deposit,
polling the bilans, every documented error, a slow server, and no double deposit."""

import pytest
from sqlalchemy import Engine, select

from gedflow.db.tables import contrat, dpae_batch
from gedflow.dpae.send_api import one_message_per_hire, send_batches_api
from gedflow.portal.dpae_api import DpaeApi
from gedflow.portal.http import Portal, PortalError
from gedflow.portal.session import Session
from gedflow.settings import Settings

from .api_server import PASSWORD, FakeNetEntreprises
from .dpae_support import HIRE_1, HIRE_2
from .portal_support import ACCOUNT, connect
from .test_crypto_phases import _use_keys

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def urssaf():
    with FakeNetEntreprises() as fake:
        yield fake


def _api_settings(settings: Settings, fake: FakeNetEntreprises) -> Settings:
    return connect(settings, fake, gedflow='dpae_canal = "api"\napi_intervalle = 0.05\n'
                                           "api_essais = 5\n")


def _build(registry: Engine, settings: Settings, urssaf_keys):
    from gedflow.dpae.prepare import Options, hires_from_csv, prepare

    from .dpae_support import NOW, csv_of

    _use_keys(registry, settings, urssaf_keys, phase="production")
    rows, bad = hires_from_csv(csv_of(HIRE_1, HIRE_2))
    return prepare(registry, rows, now=NOW, outbox=settings.outbox, root=settings.root,
                   options=Options(mode="reel", format="both", gnupg_home=settings.gnupg_home),
                   bad_lines=bad)


@SQLITE
def test_end_to_end_through_the_api(registry: Engine, settings: Settings, urssaf_keys, urssaf,
                                    monkeypatch) -> None:
    built = _build(registry, settings, urssaf_keys)
    configured = _api_settings(settings, urssaf)
    [report] = send_batches_api(registry, configured)
    assert len(urssaf.deposits) == 2  # one hire per deposit
    assert all(d.count(b"<FR_EmployeeGroup>") == 1 for d in urssaf.deposits)
    assert [(r.nom, r.statut, r.code_retour) for r in report.rows.itertuples()] == [
        ("MARTINEAU", "enregistree", "OK"), ("BENALI", "erreur", "KO")]
    with registry.connect() as conn:
        rows = conn.execute(select(contrat.c.statut, contrat.c.certificat,
                                   contrat.c.message_retour).order_by(contrat.c.id)).all()
        assert conn.execute(select(dpae_batch.c.envoi)).scalar() == "envoye"
    assert rows[0].certificat.startswith("CERT-") and rows[1].message_retour == (
        "lieu de naissance non reconnu")
    [folder] = (settings.outbox / "AR").iterdir()
    assert "enregistree" in (folder / "compte_rendu.csv").read_text()
    assert send_batches_api(registry, configured) == [] and len(urssaf.deposits) == 2
    assert built.batch_id in folder.name


@SQLITE
def test_a_restart_polls_and_never_deposits_again(registry: Engine, settings: Settings,
                                                  urssaf_keys, urssaf, monkeypatch) -> None:
    _build(registry, settings, urssaf_keys)
    configured = _api_settings(settings, urssaf)
    real_bilan = DpaeApi.bilan
    monkeypatch.setattr(DpaeApi, "bilan", lambda *_a, **_k: (_ for _ in ()).throw(
        KeyboardInterrupt))  # dies right after the first deposit
    with pytest.raises(KeyboardInterrupt):
        send_batches_api(registry, configured)
    assert len(urssaf.deposits) == 1
    monkeypatch.setattr(DpaeApi, "bilan", real_bilan)
    send_batches_api(registry, configured)
    assert len(urssaf.deposits) == 2  # the first hire was polled, not deposited again


@pytest.mark.parametrize(("mode", "words"), [
    ("401", "identifiants refusés"), ("403", "compte bloqué"), ("422", "mal formés"),
    ("429", "trop de requêtes"), ("500", r"HTTP 500 : erreur du serveur"),
    ("slow", "délai dépassé")])
def test_documented_errors(settings: Settings, urssaf, mode: str, words: str) -> None:
    configured = connect(settings, urssaf, connexion="delai = 0.5\nessais = 1\n", store=False)
    urssaf.mode = mode
    with Portal(configured) as portal, pytest.raises(PortalError, match=words):
        Session(portal, f"{urssaf.base}/authentifier_dpae", ACCOUNT).login()


def test_wrong_password_and_unreachable_server(settings: Settings, urssaf) -> None:
    from dataclasses import replace

    configured = connect(settings, urssaf, store=False)
    with Portal(configured) as portal:
        with pytest.raises(PortalError, match="identifiants refusés") as info:
            Session(portal, f"{urssaf.base}/authentifier_dpae",
                    replace(ACCOUNT, motdepasse="mauvais")).login()
        assert info.value.status == 401 and "mauvais" not in repr(
            replace(ACCOUNT, motdepasse="mauvais"))
        with pytest.raises(PortalError, match="connexion refusée"):
            Session(portal, "http://127.0.0.1:9/authentifier_dpae", ACCOUNT).login()


@SQLITE
def test_split_keeps_the_employer_with_each_hire(registry: Engine, settings: Settings,
                                                 urssaf_keys) -> None:
    built = _build(registry, settings, urssaf_keys)
    parts = one_message_per_hire(built.files["dpae.xml"].read_bytes())
    assert len(parts) == 2 and all(b"<FR_Employer>" in p for p in parts)
    assert b"MARTINEAU" in parts[0] and b"BENALI" in parts[1]


@SQLITE
@pytest.mark.usefixtures("prefect_server")  # the command runs as a flow
def test_send_command_over_the_api(registry: Engine, settings: Settings, urssaf_keys, urssaf,
                                   monkeypatch) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    _build(registry, settings, urssaf_keys)
    _api_settings(settings, urssaf)
    test_mode = CliRunner().invoke(app, ["dpae", "send", "--root", str(settings.root)])
    assert "rien n'est envoyé" in test_mode.output and urssaf.deposits == []
    real = CliRunner().invoke(app, ["dpae", "send", "--mode", "reel",
                                    "--root", str(settings.root)])
    assert real.exit_code == 1  # one hire rejected
    assert "MARTINEAU" in real.output and "lieu de naissance non reconnu" in real.output
    assert PASSWORD not in real.output


@SQLITE
def test_api_bilans_dropped_in_the_ar_folder(registry: Engine, settings: Settings, urssaf_keys,
                                             urssaf, monkeypatch) -> None:
    from gedflow.dpae.handler import handle_ar
    from gedflow.inbox import scan
    from gedflow.intake import claim, process

    _build(registry, settings, urssaf_keys)
    configured = _api_settings(settings, urssaf)
    monkeypatch.setattr(DpaeApi, "bilan", lambda *_a, **_k: (_ for _ in ()).throw(
        PortalError("pas encore de bilan")))
    with pytest.raises(PortalError):
        send_batches_api(registry, configured)  # deposited, no bilan yet
    (settings.inbox / "AR").mkdir(exist_ok=True)
    (settings.inbox / "AR/FLUX0000000000000000001.xml").write_bytes(
        b'<bilan profil="DPAE"><etat_conformite>OK</etat_conformite>'
        b"<certificat_conformite>CERT-MAIN</certificat_conformite></bilan>")
    (settings.inbox / "AR/autre.xml").write_bytes(b'<rapport profil="AEE"/>')
    (settings.inbox / "AR/FLUX9999.xml").write_bytes(
        b'<bilan profil="DPAE"><etat_conformite>KO</etat_conformite></bilan>')
    claims = [claim(settings, registry, pending) for pending in scan(settings)]
    outcomes = {c.rel: process(settings, registry, c, handle_ar) for c in claims if c}
    assert outcomes["AR/FLUX0000000000000000001.xml"].outcome == "archived"
    assert outcomes["AR/autre.xml"].outcome == "quarantined"
    assert "aucune déclaration envoyée sous le flux FLUX9999" in outcomes["AR/FLUX9999.xml"].reason
    with registry.connect() as conn:
        first = conn.execute(select(contrat.c.statut, contrat.c.certificat)
                             .order_by(contrat.c.id)).first()
    assert tuple(first) == ("enregistree", "CERT-MAIN")


@SQLITE
@pytest.mark.parametrize("cut", ["dropped", "timeout"])
def test_a_deposit_whose_answer_is_lost_is_never_sent_again(
        registry: Engine, settings: Settings, urssaf_keys, urssaf, cut: str) -> None:
    _build(registry, settings, urssaf_keys)
    configured = connect(settings, urssaf, connexion="delai = 0.5\nessais = 3\nattente = 0\n",
                         gedflow='dpae_canal = "api"\napi_intervalle = 0.05\napi_essais = 5\n')
    urssaf.deposit_fault = "drop" if cut == "dropped" else "slow"  # taken, answer lost
    [report] = send_batches_api(registry, configured)
    assert len(urssaf.deposits) == 2  # one each, despite essais = 3
    urssaf.deposit_fault = ""
    assert [(r.nom, r.statut) for r in report.rows.itertuples()] == [
        ("MARTINEAU", "incertain"), ("BENALI", "incertain")]
    assert "jamais renvoyé" in report.rows["message"].iloc[0]
    again = send_batches_api(registry, configured)  # the batch stays reported, nothing re-sent
    assert len(urssaf.deposits) == 2
    assert [r.statut for r in again[0].rows.itertuples()] == ["incertain", "incertain"]
    with registry.connect() as conn:
        assert conn.execute(select(dpae_batch.c.envoi)).scalar() == "incertain"


@SQLITE
def test_a_deposit_refused_by_the_server_can_go_again(registry: Engine, settings: Settings,
                                                     urssaf_keys, urssaf) -> None:
    _build(registry, settings, urssaf_keys)
    configured = _api_settings(settings, urssaf)
    with Portal(configured) as portal:  # log in first, so the next POST is the deposit
        api = DpaeApi(Session(portal, f"{urssaf.base}/authentifier_dpae", ACCOUNT),
                      f"{urssaf.base}/deposer-dsn/1.0/", f"{urssaf.base}/lister-retours-flux/2.0/")
        api.session.login()
        before = len(urssaf.requests)
        urssaf.fail_next = [503]
        with pytest.raises(PortalError, match="HTTP 503") as info:
            api.deposit(b"<x/>")
    assert info.value.status == 503 and urssaf.deposits == []
    assert len(urssaf.requests) - before == 1  # one deposit call: a deposit is never retried
    [report] = send_batches_api(registry, configured)
    assert [r.statut for r in report.rows.itertuples()] == ["enregistree", "erreur"]
