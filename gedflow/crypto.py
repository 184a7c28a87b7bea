"""OpenPGP encryption of outbound declarations (python-gnupg over the real `gpg`), in the
project's own GnuPG home (`.gedflow/gnupg`, mode 0700). Pitfalls measured here:
python-gnupg reports failures as `ok=False` without raising, an expired key fails with "no
specific reason", so the key is checked first, and success means `ok`, return code 0 and output.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import gnupg

from gedflow.errors import GedflowError
from gedflow.fsutil import OWNER_ONLY, fsync_dir

log = logging.getLogger(__name__)


class KeyProblem(GedflowError):
    """A recipient key that cannot be used: nothing is encrypted, nothing is sent."""

    code = "cle"


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    uids: tuple[str, ...]
    expires: datetime | None
    revoked: bool


def open_home(home: Path) -> gnupg.GPG:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    gpg = gnupg.GPG(gnupghome=str(home))
    gpg.buffer_size = 1 << 20  # data is piped to gpg: 16 KiB chunks cost ~25 % on 100 MB
    return gpg


def import_key(home: Path, data: bytes) -> list[str]:
    """Import public key(s); returns their fingerprints (a private key is refused)."""
    if b"PRIVATE KEY BLOCK" in data:
        raise KeyProblem("c'est une clé privée : importez seulement la clé publique "
                         "du destinataire")
    result = open_home(home).import_keys(data)
    if not result.fingerprints:
        raise KeyProblem("aucune clé OpenPGP importée (fichier illisible ou vide)")
    return list(dict.fromkeys(result.fingerprints))


def list_keys(home: Path) -> list[KeyInfo]:
    keys = []
    for key in open_home(home).list_keys():
        expires = (datetime.fromtimestamp(int(key["expires"]), tz=UTC)
                   if key.get("expires") else None)
        keys.append(KeyInfo(fingerprint=key["fingerprint"], uids=tuple(key.get("uids", ())),
                            expires=expires, revoked=key.get("trust") == "r"))
    return keys


def check_recipient(home: Path, fingerprint: str, now: datetime | None = None) -> KeyInfo:
    """The key to encrypt to, or `KeyProblem` saying why it cannot be used."""
    if not fingerprint:
        raise KeyProblem("aucune clé de chiffrement configurée pour ce dossier : "
                         "gedflow keys import FICHIER --dossier D")
    found = {k.fingerprint: k for k in list_keys(home)}
    key = found.get(fingerprint.upper())
    if key is None:
        raise KeyProblem(f"clé {fingerprint} absente du trousseau : importez-la")
    if key.revoked:
        raise KeyProblem(f"clé {fingerprint} révoquée : demandez la nouvelle clé")
    moment = now or datetime.now(UTC)
    if key.expires is not None and key.expires <= moment:
        raise KeyProblem(f"clé {fingerprint} expirée le {key.expires:%d/%m/%Y} : "
                         "importez la clé en cours de validité")
    return key


def encrypt_file(home: Path, fingerprint: str, source: Path, target: Path,
                 now: datetime | None = None) -> Path:
    """Encrypt `source` to `target` (binary OpenPGP, owner-only) for the recipient key."""
    check_recipient(home, fingerprint, now)
    gpg = open_home(home)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with source.open("rb") as handle:
            result = gpg.encrypt_file(handle, recipients=[fingerprint], output=tmp, armor=False,
                                      always_trust=True)
        if not (result.ok and result.returncode == 0 and Path(tmp).stat().st_size > 0):
            raise KeyProblem(f"échec du chiffrement : {result.status} {result.status_detail or ''}"
                             .strip())
        Path(tmp).chmod(OWNER_ONLY)
        Path(tmp).replace(target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_dir(target.parent)
    log.info("encrypted %s for key %s", target.name, fingerprint[-8:])
    return target
