"""Net-Entreprises credentials, one record per user, encrypted at rest (Fernet: AES-128-CBC +
HMAC) with the root's own key, `.gedflow/identifiants/cle`, created on first use, owner-only.

Why this store: it works on a headless server or a Prefect worker, where the OS keyring has no
Secret Service; a Prefect Secret block would need the Prefect server up (the connection test must
work without it) and anyone with the UI could read it; gpg needs an agent whose socket path
breaks under long root paths. With GEDFLOW_CLE_IDENTIFIANTS set, the key is derived from that
passphrase (scrypt) instead of a key file, and every process reading credentials needs it.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from stdnum.fr import siret as siret_number

from gedflow.errors import ConfigError, GedflowError
from gedflow.fsutil import OWNER_ONLY, atomic_write
from gedflow.settings import Settings

PASSPHRASE_ENV = "GEDFLOW_CLE_IDENTIFIANTS"
SUFFIX = ".json.chiffre"
SERVICES = {"25": "déclarant / tiers déclarant", "26": "régime agricole (MSA)",
            "98": "concentrateur"}
CONCENTRATOR = "98"
DECLARANT = re.compile(r"\d{14};[^;]+;[^;]+")  # SIRET;NOM;PRENOM, as the API writes it
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CASE_NOTE = ("la casse est conservée telle quelle : le portail distingue majuscules et "
             "minuscules")


@dataclass(frozen=True)
class Identifiants:
    siret: str
    nom: str
    prenom: str
    motdepasse: str
    service: str = "25"
    dossiers: tuple[str, ...] = ()  # empty: every dossier
    enregistre_le: str = ""
    # A concentrator (service 98) acts for declarants: "SIRET;NOM;PRENOM" each.
    declarants: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never print the password
        return (f"Identifiants(siret={self.siret!r}, nom={self.nom!r}, "
                f"service={self.service!r}, dossiers={self.dossiers!r}, "
                f"declarants={self.declarants!r})")

    def serves(self, dossier_code: str) -> bool:
        return not self.dossiers or dossier_code in self.dossiers


def problems(who: Identifiants) -> list[str]:
    """Why the portal would refuse these credentials (the seed's pitfalls), empty if none."""
    found = []
    for label, value in (("SIRET", who.siret), ("nom", who.nom), ("prénom", who.prenom),
                         ("mot de passe", who.motdepasse)):
        if not value:
            found.append(f"{label} vide")
        elif value != value.strip():
            found.append(f"{label} : espace au début ou à la fin (copier-coller ?) : "
                         "le portail le refuserait")
    if who.siret and not siret_number.is_valid(who.siret):
        found.append(f"SIRET {who.siret!r} invalide (14 chiffres, clé de contrôle)")
    for declarant in who.declarants:
        if not DECLARANT.fullmatch(declarant):
            found.append(f"déclarant {declarant!r} : « SIRET;NOM;PRENOM » attendu")
    if who.declarants and who.service != CONCENTRATOR:
        found.append("des déclarants ne se donnent qu'à un compte concentrateur (service 98)")
    if who.service not in SERVICES:
        found.append(f"code service {who.service!r} inconnu : "
                     + ", ".join(f"{k} ({v})" for k, v in SERVICES.items()))
    return found


class CredentialError(GedflowError):
    code = "identifiants"


class CredentialStore:
    """Encrypted credential records of one gedflow root."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.state_dir / "identifiants"
        self._keys: dict[str, Fernet] = {}

    def _file(self, user: str) -> Path:
        if not USER_NAME.fullmatch(user):
            raise ConfigError(f"nom d'utilisateur {user!r} invalide (lettres, chiffres, . _ -)")
        return self.folder / f"{user}{SUFFIX}"

    def _secret(self, name: str, make) -> bytes:
        path = self.folder / name
        if not path.exists():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(path, make(), OWNER_ONLY)
        return path.read_bytes()

    @property
    def _fernet(self) -> Fernet:
        """The key: the key file, or derived from the passphrase once per store and passphrase
        (scrypt costs ~0.1 s)."""
        passphrase = os.environ.get(PASSPHRASE_ENV) or ""
        if passphrase not in self._keys:
            self._keys[passphrase] = self._derive(passphrase)
        return self._keys[passphrase]

    def _derive(self, passphrase: str) -> Fernet:
        if not passphrase:
            return Fernet(self._secret("cle", Fernet.generate_key))
        salt = self._secret("sel", lambda: os.urandom(16))
        derived = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
        return Fernet(base64.urlsafe_b64encode(derived))

    def save(self, user: str, who: Identifiants) -> Identifiants:
        found = problems(who)
        if found:
            raise CredentialError("identifiants non enregistrés : " + " ; ".join(found))
        target = self._file(user)
        stamped = Identifiants(**{**asdict(who), "dossiers": tuple(who.dossiers),
                                  "declarants": tuple(who.declarants),
                                  "enregistre_le": datetime.now(UTC).isoformat(timespec="seconds")})
        atomic_write(target, self._fernet.encrypt(json.dumps(asdict(stamped)).encode()),
                     OWNER_ONLY)
        return stamped

    def load(self, user: str) -> Identifiants:
        path = self._file(user)
        if not path.exists():
            raise CredentialError(f"aucun identifiant Net-Entreprises pour l'utilisateur {user!r}"
                                  f" : gedflow credentials set --user {user}")
        try:
            record = json.loads(self._fernet.decrypt(path.read_bytes()))
        except InvalidToken as exc:
            raise CredentialError(f"identifiants de {user!r} illisibles : clé du coffre "
                                  f"changée, ou {PASSPHRASE_ENV} absente ou différente") from exc
        record["dossiers"] = tuple(record.get("dossiers", ()))
        record["declarants"] = tuple(record.get("declarants", ()))
        return Identifiants(**record)

    def users(self) -> list[str]:
        return sorted(p.name.removesuffix(SUFFIX) for p in self.folder.glob(f"*{SUFFIX}"))

    def remove(self, user: str) -> bool:
        path = self._file(user)
        if not path.exists():
            return False
        path.unlink()
        return True

