"""The Dask task runner from settings, on a local cluster (worker processes): CRM files of one
period parsed in parallel, periods in order; the same outcomes as with threads."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from flows.runners import task_runner
from flows.sweep import dispatch
from gedflow.db.tables import crm_declaration
from gedflow.errors import ConfigError
from gedflow.intake import claim_ready
from gedflow.registry.importer import import_csv
from gedflow.settings import Settings, load_settings

from .conftest import EXAMPLES

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow,
              pytest.mark.parametrize("db_url", ["postgres"], indirect=True)]
CRM = EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml"


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local:
        yield local


def test_dask_needs_an_address(settings: Settings) -> None:
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + '[service]\nexecuteur = "dask"\n')
    with pytest.raises(ConfigError, match="dask_adresse"):
        task_runner(load_settings(settings.root))


def test_crm_files_spread_over_a_dask_cluster(settings: Settings, engine: Engine, cluster,
                                              monkeypatch) -> None:
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + '[service]\nexecuteur = "dask"\n'
                    f'dask_adresse = "{cluster.scheduler_address}"\n')
    configured = load_settings(settings.root)
    july = CRM.read_bytes()
    august = july.replace(b"01072022", b"01082022").replace(
        b'identifiant="900000000000000417"', b'identifiant="900000000000000418"')
    for folder, name, data in (("2022_07", "a.xml", july), ("2022_07", "b.xml", july),
                               ("2022_07", "notes.xml", b"<notes/>"), ("2022_08", "c.xml", august)):
        target = configured.inbox / "crm_nominatif/travail" / folder
        target.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)
    monkeypatch.setattr("flows.batching.CHUNK_FILES", 1)  # one task per file
    claims, _settling = claim_ready(configured, engine)
    outcomes = dispatch(configured, claims)
    assert sorted((o.rel.rsplit("/", 1)[1], o.outcome) for o in outcomes) == [
        ("a.xml", "archived"), ("b.xml", "duplicate"), ("c.xml", "archived"),
        ("notes.xml", "quarantined")]
    [prefix] = cluster.scheduler.task_prefixes.values()  # the tasks ran on the cluster
    assert prefix.name == "process_claims" and prefix.state_counts["memory"] >= 3
    with engine.connect() as conn:
        rows = conn.execute(select(crm_declaration.c.periode, crm_declaration.c.statut)).all()
    assert sorted((str(p), s) for p, s in rows) == [  # b.xml ran after a.xml: a duplicate
        ("2022-07-01", "integre"), ("2022-07-01", "integre"),
        ("2022-08-01", "integre"), ("2022-08-01", "integre")]
