"""The running service: every flow served as a Prefect deployment with its schedule, and the
inbox watcher in the same process. Imported only once Prefect's environment
points at the server to use.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events import emit_event
from prefect.runner import Runner
from prefect.schedules import Cron
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    temporary_settings,
)
from sqlalchemy.exc import SQLAlchemyError

from flows import pending
from flows.alerts import install_automations
from flows.connexion import doctor, recuperer_crm
from flows.maintenance import expiration_taux, suivi_dpae
from flows.server import server_answers
from flows.sweep import balayer_inbox, dispatch, dispatch_direct
from gedflow import health
from gedflow.db.engine import migrate
from gedflow.heartbeat import Heartbeat
from gedflow.intake import claim_ready
from gedflow.settings import Settings
from gedflow.watch import SweepResult, Watcher

log = logging.getLogger(__name__)

# Served deployment → its flow and what it is for (schedules: `Settings.schedules`).
SERVED = {
    "balayage-inbox": (balayer_inbox, "Filet de sécurité du watcher : tout fichier complet."),
    "suivi-dpae": (suivi_dpae, "DPAE sans AR après 5 jours ouvrés ; embauches non déclarées."),
    "expiration-taux": (expiration_taux, "Taux PAS expirés ou expirant."),
    "recuperation-crm": (recuperer_crm, "CRM nominatifs (API DSN, nature 94) déposés dans "
                                        "l'inbox."),
    "doctor": (doctor, "Test d'accès aux serveurs Net-Entreprises (à la demande)."),
}


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """The deployments, scheduled unless run on demand, loaded by module path (runs start in a
    fresh process)."""
    return [
        flow_.to_deployment(
            name=name, parameters={"root": str(settings.root)}, description=description,
            tags=["gedflow"],
            schedule=(Cron(settings.schedules[name], timezone=settings.planif_fuseau)
                      if name in settings.schedules else None),
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for name, (flow_, description) in SERVED.items()
    ]


def prefect_up() -> bool:
    """Whether the Prefect API this process uses answers now."""
    url = PREFECT_API_URL.value() or ""
    return bool(url) and server_answers(url)


def _claims(settings: Settings):
    """Claim what is complete; the registry database away is an incident (files wait)."""
    try:
        engine = migrate(settings.registry_url)
        found = claim_ready(settings, engine)
    except SQLAlchemyError as exc:
        health.begin(settings, health.BASE, f"{type(exc).__name__}: {exc}"[:300])
        raise
    health.end(settings, health.BASE)
    return found


def inbox_sweep(settings: Settings) -> SweepResult:
    """One watcher sweep: claim what is complete, one flow run per folder kind, in this thread.
    Without a Prefect server the files are processed all the same and their outcomes kept for
    publication; the outage is an incident, said without Prefect."""
    claims, settling = _claims(settings)
    if not prefect_up():
        health.begin(settings, health.PREFECT, PREFECT_API_URL.value() or
                     "aucune API Prefect configurée")
        if claims:
            dispatch_direct(settings, claims)
        return SweepResult(done=len(claims), settling=len(settling))
    health.end(settings, health.PREFECT)
    # Flows called from the watcher: no heartbeat thread (~1 s per run).
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        pending.publish(settings)
        if claims:
            dispatch(settings, claims)
    return SweepResult(done=len(claims), settling=len(settling))


class PrefectBeat:
    """Publishes the watcher's heartbeat as a Prefect event, at most once per period."""

    def __init__(self, period: float) -> None:
        self._period = period
        self._last = 0.0

    def __call__(self, beat: Heartbeat) -> None:
        if time.monotonic() - self._last < self._period:
            return
        self._last = time.monotonic()
        emit_event(
            event="gedflow.watcher.heartbeat",
            resource={"prefect.resource.id": f"gedflow.watcher.{beat.host}",
                      "prefect.resource.name": f"watcher {beat.host}"},
            payload={"sweeps": beat.sweeps, "files": beat.files, "errors": beat.errors,
                     "observer": beat.observer, "settling": beat.settling},
        )


def inbox_watcher(settings: Settings) -> Watcher:
    """The watcher, sweeping with flows in its own thread, its heartbeat also sent to Prefect."""
    return Watcher(settings, lambda: inbox_sweep(settings),
                   PrefectBeat(settings.service_balayage_secondes))


class ServedDeployments(threading.Thread):
    """A Prefect runner serving the deployments on its own event loop, in a thread: the main
    thread keeps the signals (Prefect 3.8.8's own SIGTERM handler leaves the process hanging).
    The deployments are registered before the thread starts. Prefect's runner gives up after
    three failed polls (a server away for more than ~30 s): then a new one serves them once
    the API answers again, and the stop is logged."""

    def __init__(self, settings: Settings, make_runner: Callable[[], Runner] | None = None,
                 retry: float = 5.0) -> None:
        super().__init__(name="gedflow-runner", daemon=True)
        self.settings, self.retry = settings, retry
        self.make_runner = make_runner or self._runner
        self.runner = self.make_runner()
        self.restarts = 0
        self.loop = asyncio.new_event_loop()
        self._stopping = threading.Event()

    def _runner(self) -> Runner:
        runner = Runner(limit=self.settings.service_limite)
        for deployment in deployments(self.settings):
            runner.add_deployment(deployment)
        return runner

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self.loop.run_until_complete(self.runner.start())
                except Exception as exc:  # noqa: BLE001 - Prefect's runner gave up
                    log.warning("Prefect runner stopped (%s): served again when Prefect "
                                "answers", exc)
                if self._stopping.is_set() or not self._renew():
                    return
        finally:
            self.loop.close()

    def _renew(self) -> bool:
        """A new runner once the API answers (False: the service is stopping)."""
        while not self._stopping.wait(self.retry):
            if not prefect_up():
                continue
            try:
                self.runner = self.make_runner()
            except Exception as exc:  # noqa: BLE001 - the API went away again: wait more
                log.warning("deployments not served yet (%s): retrying", exc)
                continue
            self.restarts += 1
            return True
        return False

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        runner = self.runner
        if self.is_alive() and runner.started:
            asyncio.run_coroutine_threadsafe(runner.astop(), self.loop).result(timeout)
        self.join(timeout)


def serve_all(settings: Settings) -> None:
    """Serve the deployments with the watcher; returns on Ctrl-C (SIGTERM raises it too)."""
    install_automations(settings)
    served = ServedDeployments(settings)
    served.start()
    try:
        inbox_watcher(settings).run()
    finally:
        served.stop()


def watch_only(settings: Settings) -> None:
    """The watcher alone (no deployments), until Ctrl-C / SIGTERM."""
    inbox_watcher(settings).run()
