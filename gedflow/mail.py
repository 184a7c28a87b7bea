"""Sending a declaration by e-mail, as the seed "LA DUE PAR EMAIL" does: the settings of its
`mapibox.cfg` (profil, a, sujet, note) plus SMTP. Mode test writes the message as `.eml` and sends
nothing; mode réel sends it over SMTP (STARTTLS when configured).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import tomlkit

from gedflow.errors import ConfigError, GedflowError, InputError
from gedflow.formats.csv_table import decode
from gedflow.fsutil import atomic_write
from gedflow.portal import offline
from gedflow.settings import Settings

MAPIBOX_KEYS = ("profil", "a", "sujet", "note")
PASSWORD_ENV = "GEDFLOW_SMTP_MOT_DE_PASSE"


class SendError(GedflowError):
    code = "envoi"


def read_mapibox(raw: bytes) -> dict[str, str]:
    """`cle=valeur` lines (sections and comments ignored); only the keys mapibox.cfg has. The
    file comes from a Windows mail setup: decoded as the registry CSVs are (UTF-8, else
    Windows-1252)."""
    try:
        text, _encoding = decode(raw)
    except InputError as exc:
        raise ConfigError(f"mapibox.cfg illisible : {exc}") from exc
    found: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;[" or "=" not in stripped:
            continue
        key, _sep, value = stripped.partition("=")
        if key.strip().lower() in MAPIBOX_KEYS:
            found[key.strip().lower()] = value.strip().strip('"')
    if "a" not in found:
        raise ConfigError("mapibox.cfg : destinataire (a=…) introuvable")
    return found


def write_mail_section(toml_path: Path, values: dict[str, str]) -> None:
    """Set `values` in the `[mail]` section of gedflow.toml; every other key, section and
    comment stays as the user wrote it."""
    document = tomlkit.parse(toml_path.read_text(encoding="utf-8")) if toml_path.exists() \
        else tomlkit.document()
    if "mail" not in document:
        document["mail"] = tomlkit.table()
    for key, value in values.items():
        document["mail"][key] = value
    atomic_write(toml_path, tomlkit.dumps(document))


def build_message(settings: Settings, attachment: Path, subject_suffix: str) -> EmailMessage:
    if not settings.mail_a:
        raise ConfigError("destinataire de l'envoi non configuré : gedflow mail import-mapibox "
                          "FICHIER (ou [mail] a = … dans gedflow.toml)")
    message = EmailMessage()
    sender = settings.mail_expediteur or settings.mail_smtp_utilisateur or settings.mail_profil
    message["From"] = sender or "gedflow@localhost"
    message["To"] = settings.mail_a
    message["Subject"] = f"{settings.mail_sujet} {subject_suffix}".strip()
    message["Message-ID"] = make_msgid(domain="gedflow.local")
    message.set_content(settings.mail_note or "Déclaration préalable à l'embauche ci-jointe.")
    message.add_attachment(attachment.read_bytes(), maintype="application",
                           subtype="pgp-encrypted", filename=attachment.name)
    return message


def send_smtp(settings: Settings, message: EmailMessage, timeout: float = 30.0) -> None:
    """Send over SMTP; the password comes from the environment, never from the config file."""
    offline.refuse_if_on(settings)
    if not settings.mail_smtp_hote:
        raise ConfigError("serveur SMTP non configuré ([mail] smtp_hote)")
    try:
        with smtplib.SMTP(settings.mail_smtp_hote, settings.mail_smtp_port,
                          timeout=timeout) as smtp:
            if settings.mail_smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.mail_smtp_utilisateur:
                smtp.login(settings.mail_smtp_utilisateur, os.environ.get(PASSWORD_ENV, ""))
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"envoi SMTP impossible ({type(exc).__name__}: {exc})") from exc
    if refused:
        raise SendError(f"destinataire(s) refusé(s) : {', '.join(refused)}")
