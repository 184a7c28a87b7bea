"""Sending the real DPAE batches (`pret_a_envoyer`) by e-mail, never twice.

Each batch walks "" → `en_cours` (committed before the SMTP call) → `envoye` with its contrats
`envoye`. A batch found `en_cours` (a crash during the SMTP call) may already have left: it is
reported and never resent automatically. Mode test writes `dpae.eml` beside the file instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from gedflow.db.bulk import chunked
from gedflow.db.tables import contrat, dpae_batch
from gedflow.fsutil import atomic_write
from gedflow.mail import build_message, send_smtp
from gedflow.portal import offline
from gedflow.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sending:
    batch_id: str
    outcome: str  # envoye | eml | incertain | hors_ligne
    detail: str


def pending_batches(engine: Engine) -> list:
    """Real batches not sent yet (including those a crash left `en_cours`)."""
    with engine.connect() as conn:
        return conn.execute(select(dpae_batch).where(dpae_batch.c.mode == "reel")
                            .where(dpae_batch.c.envoi != "envoye")
                            .order_by(dpae_batch.c.created_at)).all()


def hold_offline(engine: Engine, settings: Settings) -> list[Sending]:
    """In mode assistance: each real batch stays ready in the outbox, with a note beside it."""
    held = []
    for batch in pending_batches(engine):
        folder = (settings.root / batch.path).parent
        note = atomic_write(folder / "EN_ATTENTE_HORS_LIGNE.txt", (
            f"Lot {batch.id} prêt, non envoyé : {offline.MESSAGE}.\n"
            "Il partira au premier envoi après « gedflow offline off ».\n"))
        held.append(Sending(batch.id, "hors_ligne", f"prêt, non envoyé (mode assistance) : "
                                                    f"{note.relative_to(settings.root)}"))
    return held


def send_batches(engine: Engine, settings: Settings, mode: str) -> list[Sending]:
    """Send (mode reel) or write as .eml (mode test) every real batch not sent yet."""
    done = []
    for batch in pending_batches(engine):
        folder = (settings.root / batch.path).parent
        sealed = folder / "dpae.txt.gpg"
        if batch.envoi in ("en_cours", "incertain"):
            done.append(Sending(batch.id, "incertain",
                                "envoi interrompu : il est peut-être parti ; vérifiez la boîte "
                                "d'envoi et l'AR avant toute action (jamais renvoyé seul)"))
            continue
        if not sealed.exists():
            done.append(Sending(batch.id, "incertain", "fichier chiffré absent : reconstruisez"))
            continue
        message = build_message(settings, sealed, f"lot {batch.id}")
        if mode != "reel":
            path = atomic_write(folder / "dpae.eml", message.as_bytes())
            done.append(Sending(batch.id, "eml", f"mode test : message écrit dans {path.name}, "
                                                 "rien n'est envoyé"))
            continue
        with engine.begin() as conn:
            conn.execute(update(dpae_batch).where(dpae_batch.c.id == batch.id)
                         .values(envoi="en_cours", message_id=message["Message-ID"]))
        send_smtp(settings, message)
        with engine.begin() as conn:
            conn.execute(update(dpae_batch).where(dpae_batch.c.id == batch.id)
                         .values(envoi="envoye", envoye_at=datetime.now(UTC)))
            for part in chunked(json.loads(batch.contrats)):
                conn.execute(update(contrat).where(contrat.c.id.in_(part))
                             .values(statut="envoye"))
        log.info("batch %s sent", batch.id)
        done.append(Sending(batch.id, "envoye", f"envoyé à {settings.mail_a}"))
    return done
