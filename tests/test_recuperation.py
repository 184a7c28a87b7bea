"""Automatic CRM retrieval against the local API DSN double: windows of at most 60 minutes
since the last retrieval, only nature 94, each return once, token expiry mid-run, a download cut
halfway (never a partial file in the inbox), refused accounts failing loudly, offline mode."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from gedflow.crm.recuperation import recuperer
from gedflow.db.tables import recuperation, retour_crm
from gedflow.portal.credentials import CredentialStore
from gedflow.portal.dsn_api import windows
from gedflow.settings import Settings

from .api_server import SIRET, FakeNetEntreprises
from .portal_support import ACCOUNT, CRM, NOW, PARIS, connect, wall

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def fake():
    with FakeNetEntreprises() as server:
        server.add_return("R-001", "94", NOW - timedelta(hours=2, minutes=30), CRM)
        server.add_return("R-002", "92", NOW - timedelta(hours=2), b"<ar/>")  # AR DGFiP
        server.add_return("R-003", "94", NOW - timedelta(minutes=10),
                          CRM.replace(b"01072022", b"01082022"))
        yield server


def _inbox_files(settings: Settings) -> list[str]:
    return sorted(str(p.relative_to(settings.inbox))
                  for p in settings.inbox.rglob("*") if p.is_file())


def test_windows_never_exceed_an_hour() -> None:
    cuts = windows(NOW - timedelta(hours=2, minutes=30), NOW, PARIS)
    assert [b - a for a, b in cuts] == [timedelta(hours=1)] * 2 + [timedelta(minutes=30)]
    assert cuts[0][0] == wall(2022, 8, 23, 11, 30)  # Paris wall clock (UTC+2)
    assert cuts[-1][1] == wall(2022, 8, 23, 14, 0)
    assert windows(NOW, NOW, PARIS) == []


@SQLITE
def test_new_crms_dropped_by_period_then_nothing_twice(engine: Engine, settings: Settings,
                                                       fake) -> None:
    configured = connect(settings, fake)
    _start_at(engine, NOW - timedelta(hours=3))
    [result] = recuperer(engine, configured, now=NOW)
    assert (result.erreur, result.retours, result.deja_vus) == ("", 2, 0)
    assert _inbox_files(configured) == ["crm_nominatif/travail/2022_07/crm_R-001_94.xml",
                                        "crm_nominatif/travail/2022_08/crm_R-003_94.xml"]
    assert (configured.inbox / "crm_nominatif/travail/2022_07/crm_R-001_94.xml"
            ).read_bytes() == CRM
    assert len(fake.windows) == 3 and fake.downloads == ["R-001", "R-003"]
    assert not list((configured.state_dir / "telechargements").glob("*"))
    [again] = recuperer(engine, configured, now=NOW + timedelta(minutes=30))
    assert again.fichiers == [] and fake.downloads == ["R-001", "R-003"]
    assert len(fake.windows) == 4  # only the new half hour was listed


@SQLITE
def test_a_return_listed_twice_is_downloaded_once(engine: Engine, settings: Settings,
                                                  fake) -> None:
    configured = connect(settings, fake)
    _start_at(engine, NOW - timedelta(hours=3))
    fake.listed_twice = True
    [result] = recuperer(engine, configured, now=NOW)
    assert len(result.fichiers) == 2 and fake.downloads == ["R-001", "R-003"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(retour_crm)).scalar() == 2


@SQLITE
def test_token_expires_mid_run(engine: Engine, settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    _start_at(engine, NOW - timedelta(hours=3))
    fake.token_life = 2  # each token serves two calls, then 401
    [result] = recuperer(engine, configured, now=NOW)
    assert result.erreur == "" and len(result.fichiers) == 2
    assert fake.logins >= 3  # logged in again, transparently


@SQLITE
def test_download_cut_halfway_leaves_no_partial_file(engine: Engine, settings: Settings,
                                                     fake) -> None:
    configured = connect(settings, fake)
    start = NOW - timedelta(hours=3)
    _start_at(engine, start)
    fake.cut = {"R-003"}
    [result] = recuperer(engine, configured, now=NOW)
    assert "connexion coupée avant la fin" in result.erreur
    assert _inbox_files(configured) == ["crm_nominatif/travail/2022_07/crm_R-001_94.xml"]
    assert not list((configured.state_dir / "telechargements").glob("*"))
    assert _cursor(engine) == start  # not advanced: the next run lists the window again
    fake.cut = set()
    [retry] = recuperer(engine, configured, now=NOW + timedelta(minutes=5))
    assert retry.erreur == "" and retry.deja_vus == 1 and retry.fichiers == [
        "inbox/crm_nominatif/travail/2022_08/crm_R-003_94.xml"]
    assert _cursor(engine) == NOW + timedelta(minutes=3)  # 2 minutes before now


@SQLITE
@pytest.mark.parametrize(("setup", "words"), [
    (lambda f: f.accounts.update({SIRET: ("DUPRE", "Jean", "mot-de-passe-renouvelé")}),
     "authentification de administrateur : HTTP 401 : identifiants refusés"),
    (lambda f: f.locked.add(SIRET), "HTTP 403 : accès refusé : compte bloqué"),
])
def test_refused_account_is_an_error_not_a_silent_skip(engine: Engine, settings: Settings, fake,
                                                       setup, words: str) -> None:
    configured = connect(settings, fake, connexion="depuis_jours = 1")
    CredentialStore(configured).save("second", replace(ACCOUNT, siret="81234567600017"))
    fake.accounts["81234567600017"] = (ACCOUNT.nom, ACCOUNT.prenom, ACCOUNT.motdepasse)
    setup(fake)
    first, second = recuperer(engine, configured, now=NOW)
    assert first.utilisateur == "administrateur" and words in first.erreur
    assert second.erreur == "" and len(second.fichiers) == 2  # the other user went on


@SQLITE
def test_first_retrieval_looks_back_the_configured_days(engine: Engine, settings: Settings,
                                                        fake) -> None:
    configured = connect(settings, fake, connexion="depuis_jours = 1")
    recuperer(engine, configured, now=NOW)
    assert len(fake.windows) == 24
    assert fake.windows[0][0] == "20220822140000"  # Paris wall clock, yyyyMMddHHmmss


@SQLITE
def test_offline_nothing_leaves(engine: Engine, settings: Settings, fake) -> None:
    from gedflow.portal import offline

    configured = connect(settings, fake)
    offline.turn_on(configured)
    [result] = recuperer(engine, configured, now=NOW)
    assert "mode assistance" in result.erreur and fake.requests == []


def _start_at(engine: Engine, when: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(recuperation.insert().values(utilisateur="administrateur", jusqu_au=when))


def _cursor(engine: Engine) -> datetime:
    with engine.connect() as conn:
        value = conn.execute(select(recuperation.c.jusqu_au)).scalar()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@SQLITE
def test_dossiers_without_credentials_are_named(registry: Engine, settings: Settings) -> None:
    from gedflow.crm.recuperation import uncovered

    store = CredentialStore(settings)
    store.save("paie", replace(ACCOUNT, dossiers=("ASSO-TILLEULS",)))
    assert uncovered(registry, settings) == ["ATELIERS-DUPRE"]
    store.save("administrateur", ACCOUNT)  # no dossier list: serves them all
    assert uncovered(registry, settings) == []


@SQLITE
@pytest.mark.parametrize("body", [CRM.replace(b"01072022", b"juillet"), b"<pas du xml"])
def test_unreadable_month_goes_to_the_month_before_publication(engine: Engine, settings: Settings,
                                                                body: bytes) -> None:
    published = datetime(2022, 10, 3, 9, 0, tzinfo=UTC)
    with FakeNetEntreprises() as fake:
        fake.add_return("R-009", "94", published, body)
        configured = connect(settings, fake)
        _start_at(engine, published - timedelta(minutes=30))
        [result] = recuperer(engine, configured, now=published + timedelta(minutes=5))
    assert result.fichiers == ["inbox/crm_nominatif/travail/2022_09/crm_R-009_94.xml"]
