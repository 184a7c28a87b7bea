"""The API DSN and API DPAE spoken as the GIP-MDS's own mock of the API DSN speaks them
(`tests/api_server.py` copies it point by point): one test per point of the protocol."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from gedflow.crm.recuperation import recuperer
from gedflow.db.tables import recuperation
from gedflow.portal.credentials import CredentialStore, Identifiants
from gedflow.portal.doctor import diagnose
from gedflow.portal.dpae_api import DpaeApi, Rejected
from gedflow.portal.dsn_api import returns_of, when, windows
from gedflow.portal.http import Portal, PortalError
from gedflow.portal.session import Session
from gedflow.settings import Settings

from .api_server import CONCENTRATOR, NOM, PRENOM, SIRET, FakeNetEntreprises
from .portal_support import ACCOUNT, CRM, NOW, PARIS, connect, wall

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def fake():
    with FakeNetEntreprises() as server:
        yield server


def _since(engine: Engine, when_: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(recuperation.insert().values(utilisateur="administrateur", jusqu_au=when_))


def _retrieve(engine: Engine, settings: Settings, fake: FakeNetEntreprises,
              now: datetime = NOW, start: timedelta = timedelta(hours=1)):
    configured = connect(settings, fake)
    _since(engine, now - start)
    [result] = recuperer(engine, configured, now=now)
    return configured, result


# 1. window dates --------------------------------------------------------------------------------

@SQLITE
def test_window_dates_are_the_servers_wall_clock(engine: Engine, settings: Settings,
                                                 fake) -> None:
    _configured, result = _retrieve(engine, settings, fake)
    assert result.erreur == ""
    assert fake.windows == [("20220823130000", "20220823135800")]  # UTC+2, 2 min before now


def test_an_iso_window_is_refused_by_the_double_and_explained(settings: Settings,
                                                              fake) -> None:
    configured = connect(settings, fake, store=True)
    with Portal(configured) as portal:
        session = Session(portal, configured.connexion_dsn_authentification, ACCOUNT)
        with pytest.raises(PortalError) as info:
            session.request("GET", f"{fake.base}/lister-retours-declarant/2.0/"
                            "2022-08-23T10:00:00/2022-08-23T11:00:00",
                            reasons={422: "dates de la fenêtre refusées"})
    assert info.value.status == 422 and "identifiants" not in str(info.value)


def test_doctor_shows_a_refused_date_format(settings: Settings, fake) -> None:
    configured = connect(settings, fake, connexion=(
        f'dsn_retours = "{fake.base}/lister-retours-declarant/2.0/{{debut}}00/{{fin}}00"'))
    ok, detail = {c.nom: (c.ok, c.detail) for c in diagnose(configured).checks}[
        "Retours API DSN"]
    assert not ok and "dates de la fenêtre refusées" in detail
    good = {c.nom: c for c in diagnose(connect(settings, fake)).checks}["Retours API DSN"]
    assert good.ok and "liste des retours lue" in good.detail


# 2. gzip downloads ------------------------------------------------------------------------------

@SQLITE
def test_gzip_download_is_whole_and_decoded(engine: Engine, settings: Settings, fake) -> None:
    fake.add_return("R-1", "94", NOW - timedelta(minutes=30), CRM)
    configured, result = _retrieve(engine, settings, fake)
    assert result.erreur == "" and fake.downloads == ["R-1"]
    assert (configured.root / result.fichiers[0]).read_bytes() == CRM


def test_the_double_refuses_a_client_that_does_not_accept_gzip(fake) -> None:
    fake.add_return("R-1", "94", NOW, CRM)
    url = f"{fake.base}/telecharger-retour/1.0/R-1/R-1"
    assert httpx.get(url, headers={"Accept-Encoding": "identity"}).status_code == 406
    raw = httpx.get(url, headers={"Accept-Encoding": "gzip",
                                  "Authorization": "DSNLogin jeton=x"})
    assert raw.status_code == 401  # encoding checked first, then the token


# 3. listings as they come -----------------------------------------------------------------------

@SQLITE
def test_single_objects_and_returns_without_url(engine: Engine, settings: Settings,
                                                fake) -> None:
    fake.singletons = True
    fake.add_return("R-1", "94", NOW - timedelta(minutes=30), CRM)
    fake.add_return("R-2", "94", NOW - timedelta(minutes=20), CRM, url=False)  # not yet
    _configured, result = _retrieve(engine, settings, fake)
    assert result.erreur == "" and fake.downloads == ["R-1"]


def test_listing_reader_is_lenient() -> None:
    listing = {"Retours": {"Flux": {"id": "F", "Retour": {"id": "F", "nature": "94",
                                                          "url": "u", "publication": "x"}}}}
    [retour], waiting = returns_of(listing, PARIS)
    assert (retour.flux, retour.nature, retour.publication, waiting) == ("F", "94", None, 0)
    assert returns_of({"retours": None}, PARIS) == ([], 0)
    assert returns_of([], PARIS) == ([], 0)


# 4. identity of a return ------------------------------------------------------------------------

@SQLITE
def test_returns_sharing_a_flux_id_are_each_known(engine: Engine, settings: Settings,
                                                  fake) -> None:
    at = NOW - timedelta(minutes=30)
    fake.add_return("AEE-1", "10", at, b"<aee/>", flux="FLUX-A")
    fake.add_return("CRM-1", "94", at, CRM, flux="FLUX-A")
    fake.add_return("CRM-2", "94", at, CRM.replace(b"01072022", b"01082022"), flux="FLUX-A")
    _configured, result = _retrieve(engine, settings, fake)
    assert result.erreur == "" and sorted(fake.downloads) == ["CRM-1", "CRM-2"]
    assert len(result.fichiers) == 2 and all("crm_FLUX-A_94" in f for f in result.fichiers)


# 5. publication stamps --------------------------------------------------------------------------

def test_publication_stamps_are_read() -> None:
    assert when("20221003090000", PARIS) == datetime(2022, 10, 3, 7, 0, tzinfo=UTC)
    assert when("2022-10-03T09:00:00+00:00", PARIS) == datetime(2022, 10, 3, 9, tzinfo=UTC)
    assert when("bientôt", PARIS) is None and when(None, PARIS) is None


# 6. concentrators -------------------------------------------------------------------------------

@SQLITE
def test_a_concentrator_lists_for_its_declarants(engine: Engine, settings: Settings,
                                                 fake) -> None:
    fake.add_return("R-1", "94", NOW - timedelta(minutes=25), CRM)
    configured = connect(settings, fake, store=False)
    siret, nom, prenom, password = CONCENTRATOR
    store = CredentialStore(configured)
    store.save("administrateur", Identifiants(siret, nom, prenom, password, service="98",
                                              declarants=(f"{SIRET};{NOM};{PRENOM}",)))
    _since(engine, NOW - timedelta(minutes=32))
    [result] = recuperer(engine, configured, now=NOW)
    assert result.erreur == "" and fake.downloads == ["R-1"]
    assert [w[1] for w in fake.windows] == ["20220823133800", "20220823134800",
                                            "20220823135800"]  # 10-minute windows
    store.save("administrateur", Identifiants(siret, nom, prenom, password, service="98"))
    [none] = recuperer(engine, configured, now=NOW + timedelta(hours=1))
    assert "sans déclarant" in none.erreur


# 7. statuses ------------------------------------------------------------------------------------

@SQLITE
def test_401_realms_are_told_apart(engine: Engine, settings: Settings, fake) -> None:
    fake.unregistered.add(SIRET)
    _configured, result = _retrieve(engine, settings, fake)
    assert "non inscrit à ce service" in result.erreur


def test_a_rejected_deposit_keeps_its_report(settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    with Portal(configured) as portal:
        api = DpaeApi(Session(portal, f"{fake.base}/authentifier_dpae", ACCOUNT),
                      f"{fake.base}/deposer-dsn/1.0/", f"{fake.base}/lister-retours-flux/2.0/")
        with pytest.raises(Rejected) as info:
            api.deposit(b"<pas-une-dpae/>")
        assert info.value.report == "B1-105-15 Le format du fichier n'est pas reconnu."
        idflux = api.deposit(b"<FR_DUE_Upload/>")
        assert len(idflux) == 23
        fake.not_yet = 2  # the flux has no return yet: 404, then the bilan
        bilan = api.bilan(idflux, attempts=5, interval=0.01)
    assert bilan.etat == "OK" and fake.not_yet == 0


# 8. window edge and the autumn clock change -----------------------------------------------------

def test_autumn_clock_change_lists_each_hour_once() -> None:
    start = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 01:30 CEST
    end = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)  # 03:30 CET
    cuts = windows(start, end, PARIS)
    assert cuts == [(wall(2026, 10, 25, 1, 30), wall(2026, 10, 25, 2, 30)),
                    (wall(2026, 10, 25, 2, 30), wall(2026, 10, 25, 3, 30))]
    assert len(set(cuts)) == len(cuts) and all(b - a <= timedelta(hours=1) for a, b in cuts)


@SQLITE
def test_returns_of_the_repeated_hour_are_all_retrieved(engine: Engine, settings: Settings,
                                                        fake) -> None:
    now = datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
    fake.add_return("R-CEST", "94", datetime(2026, 10, 25, 0, 15, tzinfo=UTC), CRM)
    fake.add_return("R-CET", "94", datetime(2026, 10, 25, 1, 15, tzinfo=UTC),
                    CRM.replace(b"01072022", b"01082022"))
    _configured, result = _retrieve(engine, settings, fake, now=now, start=timedelta(hours=4))
    assert result.erreur == "" and sorted(fake.downloads) == ["R-CEST", "R-CET"]
    assert len(fake.windows) == len(set(fake.windows))


# 9. User-Agent ----------------------------------------------------------------------------------

@SQLITE
def test_the_software_says_who_it_is(engine: Engine, settings: Settings, fake) -> None:
    _retrieve(engine, settings, fake)
    assert fake.user_agents and all(
        a.startswith("Client-DSN (gedflow/") and a.endswith("; projet gedflow)")
        for a in fake.user_agents)


def test_the_double_serves_gzip(fake) -> None:
    fake.add_return("R-1", "94", NOW, CRM)
    answer = httpx.post(f"{fake.base}/authentifier/1.0/", content=(
        f"<identifiants><siret>{SIRET}</siret><nom>{NOM}</nom><prenom>{PRENOM}</prenom>"
        f"<motdepasse>{ACCOUNT.motdepasse}</motdepasse><service>25</service></identifiants>"))
    raw = httpx.get(f"{fake.base}/telecharger-retour/1.0/R-1/R-1",
                    headers={"Authorization": f"DSNLogin jeton={answer.text}"})
    assert raw.headers["Content-Encoding"] == "gzip"
    assert int(raw.headers["Content-Length"]) == len(gzip.compress(CRM))
    assert raw.content == CRM
