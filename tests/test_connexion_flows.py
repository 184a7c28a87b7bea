"""The `recuperation-crm` and `doctor` flows in Prefect, `gedflow crm recuperer` end to end, and
the offline mode seen from the runs and from DPAE sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from sqlalchemy import Engine
from typer.testing import CliRunner

from flows.cli import app
from flows.connexion import doctor, recuperer_crm
from gedflow.portal import offline
from gedflow.settings import Settings

from .api_server import SIRET, FakeNetEntreprises
from .conftest import EXAMPLES
from .portal_support import connect

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
pytestmark = [SQLITE, pytest.mark.usefixtures("prefect_server")]
CRM = (EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml").read_bytes()


@pytest.fixture
def fake():
    with FakeNetEntreprises() as server:
        server.add_return("R-100", "94", datetime.now(UTC) - timedelta(minutes=20), CRM)
        yield server


def _artifacts(state) -> dict:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    return {a.key: a for a in found}


def test_retrieval_flow_drops_the_crm_and_publishes(settings: Settings, fake) -> None:
    configured = connect(settings, fake, connexion="depuis_jours = 1")
    state = recuperer_crm(str(configured.root), return_state=True)
    assert state.is_completed() and state.message == "1 CRM déposé(s) dans l'inbox"
    assert (configured.inbox / "crm_nominatif/travail/2022_07/crm_R-100_94.xml").exists()
    artifacts = _artifacts(state)
    assert "crm_R-100_94.xml" in artifacts["recuperation-crm-resume"].data
    assert '"nouveaux": 1' in str(artifacts["recuperation-crm"].data)


def test_refused_account_fails_the_run_visibly(settings: Settings, fake) -> None:
    configured = connect(settings, fake, connexion="depuis_jours = 1")
    fake.accounts[SIRET] = ("DUPRE", "Jean", "Perime-2022!")
    state = recuperer_crm(str(configured.root), return_state=True)
    assert state.is_failed()
    assert "administrateur : authentification de administrateur : HTTP 401" in state.message
    assert "identifiants refusés" in _artifacts(state)["recuperation-crm-resume"].data


def test_no_credentials_at_all_fails(settings: Settings, fake) -> None:
    configured = connect(settings, fake, store=False)
    state = recuperer_crm(str(configured.root), return_state=True)
    assert state.is_failed() and "aucun identifiant Net-Entreprises" in state.message


def test_offline_runs_say_they_were_skipped(settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    offline.turn_on(configured)
    for flow_ in (recuperer_crm, doctor):
        state = flow_(str(configured.root), return_state=True)
        assert state.is_completed() and state.name == "Ignoré"
        assert "mode assistance" in state.message
    assert fake.requests == []
    offline.turn_off(configured)  # the next run catches up
    state = recuperer_crm(str(configured.root), return_state=True)
    assert state.is_completed() and fake.downloads == ["R-100"]


def test_doctor_flow(settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    state = doctor(str(configured.root), return_state=True)
    assert state.is_completed()
    assert "Retours API DSN" in str(_artifacts(state)["doctor"].data)
    fake.locked.add(SIRET)
    failed = doctor(str(configured.root), return_state=True)
    assert failed.is_failed() and "compte bloqué" in failed.message


def test_crm_recuperer_command_retrieves_and_processes(settings: Settings, engine: Engine,
                                                       fake) -> None:
    from gedflow.registry.importer import import_csv

    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    configured = connect(settings, fake, connexion="depuis_jours = 1")
    done = CliRunner().invoke(app, ["crm", "recuperer", "--root", str(configured.root)])
    assert done.exit_code == 0, done.output
    assert "1 CRM déposé(s)" in done.output and "archived" in done.output
    assert list((configured.outbox / "crm_nominatif/2022_07").glob("*.rapprochement.csv"))


def test_dpae_sending_offline_leaves_batches_ready(registry: Engine, settings: Settings,
                                                   urssaf_keys, fake) -> None:
    from .test_dpae_api import _build

    built = _build(registry, settings, urssaf_keys)
    configured = connect(settings, fake, gedflow='dpae_canal = "api"\n')
    offline.turn_on(configured)
    done = CliRunner().invoke(app, ["dpae", "send", "--mode", "reel",
                                    "--root", str(configured.root)])
    assert done.exit_code == 0 and "rien n'est envoyé" in done.output
    note = built.files["dpae.xml"].parent / "EN_ATTENTE_HORS_LIGNE.txt"
    assert "gedflow offline off" in note.read_text()
    assert fake.deposits == [] and fake.requests == []
