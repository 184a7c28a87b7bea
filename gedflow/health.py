"""Incidents of the running service, said through channels that work without Prefect: a line
in `.gedflow/logs/alertes.log` and, when `[service] alerte_email` is set, an e-mail with the
`[mail]` SMTP settings — once when an incident starts, once when it ends. `.gedflow/
incidents.json` holds the open ones and since when (`gedflow status` shows them).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from gedflow.errors import GedflowError
from gedflow.fsutil import OWNER_ONLY, atomic_write
from gedflow.settings import Settings

log = logging.getLogger(__name__)
PREFECT, BASE, DISQUE, BALAYAGES = "prefect", "base", "disque", "balayages"
INCIDENTS = {
    PREFECT: "serveur Prefect injoignable : les fichiers sont traités quand même, leurs "
             "artefacts publiés à son retour",
    BASE: "base du registre injoignable : les fichiers attendent dans l'inbox",
    DISQUE: "disque plein ou outbox non inscriptible : les fichiers restent à traiter",
    BALAYAGES: "balayages de l'inbox en échec répétés",
}


def alert_log(settings: Settings) -> Path:
    return settings.state_dir / "logs" / "alertes.log"


def _state(settings: Settings) -> Path:
    return settings.state_dir / "incidents.json"


def open_incidents(settings: Settings) -> dict[str, dict[str, str]]:
    """Incident → {depuis (ISO), detail}."""
    try:
        return json.loads(_state(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def write_alert(settings: Settings, subject: str, body: str) -> None:
    """One line in the alert log (owner-only), and the e-mail when one is configured; a
    failing channel is logged, never raised (the alert must not stop the service)."""
    line = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {subject} — {body}"
    journal = alert_log(settings)
    try:
        journal.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with journal.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        journal.chmod(OWNER_ONLY)
    except OSError:
        log.exception("alert log not writable: %s", line)
    log.warning("%s", line)
    if settings.service_alerte_email:
        _mail(settings, subject, body)


def _mail(settings: Settings, subject: str, body: str) -> None:
    from gedflow.mail import send_smtp

    message = EmailMessage()
    message["From"] = settings.mail_expediteur or settings.mail_smtp_utilisateur \
        or "gedflow@localhost"
    message["To"] = settings.service_alerte_email
    message["Subject"] = subject
    message.set_content(body)
    try:
        send_smtp(settings, message, timeout=10.0)
    except (GedflowError, OSError):
        log.exception("alert e-mail not sent: %s", subject)


def begin(settings: Settings, name: str, detail: str) -> bool:
    """Open incident `name` (said once); True when it was not open yet."""
    current = open_incidents(settings)
    if name in current:
        return False
    current[name] = {"depuis": datetime.now(UTC).isoformat(timespec="seconds"),
                     "detail": detail[:500]}
    atomic_write(_state(settings), json.dumps(current, ensure_ascii=False, indent=1))
    write_alert(settings, f"gedflow : service dégradé ({name})",
                f"{INCIDENTS[name]}. Détail : {detail[:500]}")
    return True


def end(settings: Settings, name: str) -> bool:
    """Close incident `name` (said once); True when it was open."""
    current = open_incidents(settings)
    if name not in current:
        return False
    since = current.pop(name)["depuis"]
    atomic_write(_state(settings), json.dumps(current, ensure_ascii=False, indent=1))
    write_alert(settings, f"gedflow : rétabli ({name})",
                f"{INCIDENTS[name].split(' :')[0]} : rétabli (incident ouvert le {since}).")
    return True
