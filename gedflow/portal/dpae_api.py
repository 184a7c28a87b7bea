"""The API DPAE (dpae_format.md §4, net_entreprises_api.md): deposit one hire (gzip), poll the
returns until the `profil="DPAE"` bilan says OK (certificat de conformité) or KO (message).
Authentication, the token and its renewal, proxies and errors are the `Session`'s.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass

from lxml import etree

from gedflow.portal.http import PortalError
from gedflow.portal.session import Session
from gedflow.xmlsafe import HARDENED


@dataclass(frozen=True)
class Bilan:
    etat: str  # OK | KO
    certificat: str
    message: str


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(**HARDENED))


class DpaeApi:
    def __init__(self, session: Session, depot: str, retours: str) -> None:
        self.session = session
        self.depot = depot
        self.retours = retours

    def deposit(self, message: bytes) -> str:
        """Deposit one FR_DUE_Upload message (gzip) in one try — a deposit whose answer was
        lost may have been taken, and a second one would be a double DPAE; returns the flow
        id. A `PortalError` without `status` means no answer came: the hire is uncertain."""
        self.session.logged_in()  # first: a failed login has sent nothing
        answer = _parse(self.session.request(
            "POST", self.depot, tries=1, content=gzip.compress(message),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"}).content)
        idflux, etat = answer.findtext(".//idflux"), answer.findtext(".//envoi_etat")
        if etat != "OK" or not idflux:
            raise PortalError(f"dépôt refusé (envoi_etat={etat})")
        return idflux.strip()

    def bilan(self, idflux: str, attempts: int = 60, interval: float = 10.0) -> Bilan:
        """Poll the flow's returns until the DPAE bilan is there."""
        for attempt in range(attempts):
            listing = self.session.request("GET", self.retours + idflux).json()
            for flux in listing.get("retours", {}).get("flux", []):
                for retour in flux.get("retour", []):
                    document = _parse(self.session.request("GET", retour["url"]).content)
                    if document.get("profil") == "DPAE":
                        return Bilan(
                            etat=(document.findtext(".//etat_conformite") or "").strip(),
                            certificat=(document.findtext(".//certificat_conformite")
                                        or "").strip(),
                            message=(document.findtext(".//message") or "").strip())
            if attempt + 1 < attempts:
                time.sleep(interval)
        raise PortalError(f"pas de bilan pour le flux {idflux} après {attempts} essais")
