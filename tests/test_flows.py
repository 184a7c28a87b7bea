"""The Prefect layer: flows run against the session's test harness and publish artifacts."""

import shutil

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.logging import disable_run_logger
from sqlalchemy import Engine, func, select

from flows.ingest import registre
from gedflow.db.tables import salarie
from gedflow.inbox import scan
from gedflow.intake import claim
from gedflow.settings import Settings
from tasks.intake import process_claims

from .conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_server")


def _drop_examples(settings: Settings) -> list[tuple[int, str]]:
    # salaries first on purpose: the flow must still import employeurs first
    for name in ("salaries_exemple.csv", "employeurs_exemple.csv"):
        shutil.copy(EXAMPLES / "registre" / name, settings.inbox / "registre" / name)
    engine = _engine(settings)
    claims = [claim(settings, engine, p) for p in scan(settings)]
    return [(c.id, c.rel) for c in claims if c]


def _engine(settings: Settings) -> Engine:
    from gedflow.db.engine import migrate

    return migrate(settings.registry_url)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_registre_flow_imports_in_order_and_publishes(settings: Settings, engine: Engine) -> None:
    claims = _drop_examples(settings)
    state = registre(str(settings.root), claims, return_state=True)
    outcomes = state.result()
    assert [(o.rel, o.outcome) for o in outcomes] == [
        ("registre/employeurs_exemple.csv", "archived"),
        ("registre/salaries_exemple.csv", "archived"),
    ]
    assert outcomes[1].summary == {"format": "salaries", "lignes": 4, "importees": 4,
                                   "erreurs": 0, "taux_ajoutes": 4}
    assert (settings.archive / "registre" / "salaries_exemple.import.csv").exists()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(salarie)).scalar() == 4
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["registre-fichiers", "registre-resume"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    by_key = {a.key: a for a in artifacts}
    assert by_key["registre-fichiers"].type == "table"
    assert "registre/salaries_exemple.csv" in str(by_key["registre-fichiers"].data)
    assert "- archived : 2" in by_key["registre-resume"].data


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_task_skips_rows_no_longer_waiting(settings: Settings) -> None:
    claims = _drop_examples(settings)
    registre(str(settings.root), claims)
    with disable_run_logger():
        assert process_claims.fn(str(settings.root), [claims[0][0]], "registre") == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_crm_flow_publishes_per_establishment_artifacts(settings: Settings, engine: Engine) -> None:
    from flows.ingest import crm
    from gedflow.registry.importer import import_csv

    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    target = settings.inbox / "crm_nominatif/travail/2022/2022_08"
    target.mkdir(parents=True)
    shutil.copy(EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml", target)
    claims = [claim(settings, engine, p) for p in scan(settings)]
    state = crm(str(settings.root), [(c.id, c.rel) for c in claims], return_state=True)
    [outcome] = state.result()
    assert outcome.outcome == "archived"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    keys = {a.key for a in artifacts}
    assert {"crm-81234567600017-2022-08", "crm-81234567600017", "crm-42198765200029-2022-08",
            "crm-42198765200029", "crm-fichiers", "crm-resume"} <= keys
    table = next(a for a in artifacts if a.key == "crm-81234567600017-2022-08")
    assert "modifie" in str(table.data) and "1790169123045" not in str(table.data)
    board = next(a for a in artifacts if a.key.startswith("etat-asso-tilleuls-"))
    assert board.key == "etat-asso-tilleuls-2022-07"  # the CRM's own period (DSN of July)
    assert "| CRM reçus | 2 |" in board.data and "| CRM intégrés | 2 |" in board.data
    assert "| fichiers en quarantaine (tous dossiers) | 0 |" in board.data
