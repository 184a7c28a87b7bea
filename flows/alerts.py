"""Nothing fails silently: Prefect automations, created when the service starts, send a
notification when a flow run fails, when files are quarantined, when a DSN's controls find an
erreur or a hire without DPAE, and when a CRM taux sur taux comes. The notification block is
`[service] notification` (`<type de bloc>/<nom>`, e.g. `slack-webhook/paie`); by default the
log-only block below, which the Prefect server loads through the `prefect.collections` entry
point of this package and which writes to `.gedflow/logs/alertes.log` and the server's log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from prefect.automations import Automation, EventTrigger, Posture, SendNotification
from prefect.blocks.abstract import NotificationBlock
from prefect.client.orchestration import get_client

from gedflow.handler import CONTROL_EVENT, MISSING_DPAE_EVENT, TAUX_SUR_TAUX_EVENT
from gedflow.health import alert_log
from gedflow.settings import Settings
from tasks.intake import QUARANTINE_EVENT

DEFAULT_BLOCK = "gedflow-journal"
AUTOMATIONS = {
    "gedflow-echec": (
        EventTrigger(expect={"prefect.flow-run.Failed"},
                     match={"prefect.resource.id": "prefect.flow-run.*"},
                     posture=Posture.Reactive, threshold=1),
        "gedflow : exécution en échec",
        "Exécution « {{ flow_run.name }} » ({{ flow.name }}) en échec : "
        "{{ flow_run.state.message }}",
    ),
    "gedflow-quarantaine": (
        EventTrigger(expect={QUARANTINE_EVENT}, match={"prefect.resource.id": "gedflow.run.*"},
                     posture=Posture.Reactive, threshold=1),
        "gedflow : fichier(s) en quarantaine",
        "{{ event.payload.nombre }} fichier(s) en quarantaine "
        "({{ event.resource['prefect.resource.name'] }}) : {{ event.payload.fichiers }}",
    ),
    "gedflow-controle-dsn": (
        EventTrigger(expect={CONTROL_EVENT}, match={"prefect.resource.id": "gedflow.run.*"},
                     posture=Posture.Reactive, threshold=1),
        "gedflow : contrôle DSN en erreur",
        "DSN {{ event.payload.fichier }} : {{ event.payload.erreurs }} erreur(s) "
        "({{ event.payload.codes }}) — voir le rapport .controle.html",
    ),
    "gedflow-dpae-manquante": (
        EventTrigger(expect={MISSING_DPAE_EVENT}, match={"prefect.resource.id": "gedflow.run.*"},
                     posture=Posture.Reactive, threshold=1),
        "gedflow : embauche sans DPAE",
        "DSN {{ event.payload.fichier }} : {{ event.payload.nombre }} embauche(s) sans DPAE "
        "(matricules {{ event.payload.matricules }})",
    ),
    "gedflow-taux-sur-taux": (
        EventTrigger(expect={TAUX_SUR_TAUX_EVENT}, match={"prefect.resource.id": "gedflow.run.*"},
                     posture=Posture.Reactive, threshold=1),
        "gedflow : CRM taux sur taux reçu",
        "CRM taux sur taux {{ event.payload.fichier }} : {{ event.payload.nombre }} taux non "
        "appliqué(s) signalé(s) par la DGFiP (SIRET {{ event.payload.sirets }})",
    ),
}


class JournalNotification(NotificationBlock):
    """Log-only notification: one line in a file and in the Prefect server's log."""

    _block_type_name = "gedflow journal"
    _block_type_slug = DEFAULT_BLOCK
    _description = "Écrit l'alerte dans un fichier journal (aucun envoi)."

    fichier: str = ""

    async def notify(self, body: str, subject: str | None = None) -> None:  # server awaits it
        line = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {subject or 'alerte'} — {body}"
        logging.getLogger("alertes").warning(line)  # not under "gedflow": no flow run here
        if self.fichier:
            journal = Path(self.fichier)
            journal.parent.mkdir(parents=True, exist_ok=True)
            with journal.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")


def _block_id(settings: Settings) -> UUID:
    """The configured notification block's document, or the log-only one (saved here)."""
    if settings.service_notification:
        slug, _, name = settings.service_notification.partition("/")
        with get_client(sync_client=True) as client:
            return client.read_block_document_by_name(name, slug).id
    block = JournalNotification(fichier=str(alert_log(settings)))
    return block.save(DEFAULT_BLOCK, overwrite=True)


def install_automations(settings: Settings) -> list[str]:
    """Create (or replace) the automations; returns their names."""
    block_id = _block_id(settings)
    for name, (trigger, subject, body) in AUTOMATIONS.items():
        try:
            Automation.read(name=name).delete()
        except ValueError:
            pass  # not there yet
        Automation(name=name, description=subject, trigger=trigger, actions=[
            SendNotification(block_document_id=block_id, subject=subject, body=body)]).create()
    return list(AUTOMATIONS)

