"""The API DPAE (dpae_format.md §4, net_entreprises_api.md): authenticate, deposit one hire
(gzip), poll the returns until the `profil="DPAE"` bilan says OK (certificat de conformité) or
KO (message). Every URL comes from settings; errors are `ApiError` with a reason in French.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from lxml import etree

from gedflow.errors import GedflowError
from gedflow.xmlsafe import HARDENED

log = logging.getLogger(__name__)

REASONS = {
    401: "identifiants refusés (la casse compte : copiez-collez depuis le portail ; mot de passe "
         "expiré ou compte pas encore actif ?)",
    403: "compte bloqué ou habilitation DPAE refusée",
    422: "identifiants mal formés (SIRET, nom, prénom, service)",
    429: "trop de requêtes : réessayez plus tard",
}


class ApiError(GedflowError):
    code = "api"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Endpoints:
    authentification: str
    depot: str
    retours: str


@dataclass(frozen=True)
class Identifiants:
    siret: str
    nom: str
    prenom: str
    motdepasse: str
    service: str = "25"

    def __repr__(self) -> str:  # never print the password
        return f"Identifiants(siret={self.siret!r}, nom={self.nom!r}, service={self.service!r})"


@dataclass(frozen=True)
class Bilan:
    etat: str  # OK | KO
    certificat: str
    message: str


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(**HARDENED))


class DpaeApi:
    def __init__(self, endpoints: Endpoints, timeout: float = 30.0) -> None:
        self.endpoints = endpoints
        self.timeout = timeout

    def _call(self, url: str, data: bytes | None = None, headers: dict | None = None) -> bytes:
        request = urllib.request.Request(url, data=data, headers=headers or {},
                                         method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return answer.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # the error response holds the connection
            reason = REASONS.get(exc.code) or (f"erreur du serveur URSSAF ({exc.code})"
                                               if exc.code >= 500 else f"HTTP {exc.code}")
            raise ApiError(reason, exc.code) from exc
        except TimeoutError as exc:
            raise ApiError(f"délai dépassé ({self.timeout:.0f} s) : serveur trop lent") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise ApiError(f"délai dépassé ({self.timeout:.0f} s)") from exc
            raise ApiError(f"serveur injoignable ({exc.reason})") from exc

    def authenticate(self, who: Identifiants) -> str:
        root = etree.Element("identifiants")
        for tag, value in (("siret", who.siret), ("nom", who.nom), ("prenom", who.prenom),
                           ("motdepasse", who.motdepasse), ("service", who.service)):
            etree.SubElement(root, tag).text = value
        token = self._call(self.endpoints.authentification, etree.tostring(root),
                           {"Content-Type": "application/xml"}).decode().strip()
        if not token:
            raise ApiError("authentification : jeton vide")
        return token

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"DSNLogin jeton={token}"}

    def deposit(self, token: str, message: bytes) -> str:
        """Deposit one FR_DUE_Upload message (gzip); returns the flow id."""
        answer = _parse(self._call(self.endpoints.depot, gzip.compress(message),
                                   {**self._auth(token), "Content-Encoding": "gzip",
                                    "Content-Type": "application/xml"}))
        idflux, etat = answer.findtext(".//idflux"), answer.findtext(".//envoi_etat")
        if etat != "OK" or not idflux:
            raise ApiError(f"dépôt refusé (envoi_etat={etat})")
        return idflux.strip()

    def bilan(self, token: str, idflux: str, attempts: int = 60, interval: float = 10.0) -> Bilan:
        """Poll the flow's returns until the DPAE bilan is there."""
        for attempt in range(attempts):
            listing = json.loads(self._call(self.endpoints.retours + idflux, None,
                                            self._auth(token)))
            for flux in listing.get("retours", {}).get("flux", []):
                for retour in flux.get("retour", []):
                    document = _parse(self._call(retour["url"], None, self._auth(token)))
                    if document.get("profil") == "DPAE":
                        return Bilan(
                            etat=(document.findtext(".//etat_conformite") or "").strip(),
                            certificat=(document.findtext(".//certificat_conformite")
                                        or "").strip(),
                            message=(document.findtext(".//message") or "").strip())
            if attempt + 1 < attempts:
                time.sleep(interval)
        raise ApiError(f"pas de bilan pour le flux {idflux} après {attempts} essais")
