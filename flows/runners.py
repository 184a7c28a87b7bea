"""The task runner of the ingest flows, from settings: threads by default, or an existing Dask
cluster."""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from gedflow.errors import ConfigError
from gedflow.settings import Settings


def task_runner(settings: Settings) -> TaskRunner:
    if settings.service_executeur != "dask":
        return ThreadPoolTaskRunner()
    if not settings.service_dask_adresse:
        raise ConfigError('[service] executeur = "dask" : renseignez dask_adresse '
                          "(tcp://hote:8786, l'ordonnanceur du cluster Dask)")
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=settings.service_dask_adresse)
