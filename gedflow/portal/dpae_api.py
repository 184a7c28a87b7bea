"""The API DPAE: deposit one hire (gzip), poll the returns until the `profil="DPAE"` bilan says
OK (certificat de conformité) or KO (message). Answers are read as the public clients read them:
`idflux` (23 characters) and `envoi_etat` of the deposit, a 422 carrying the rejection report,
a listing whose `flux`/`retour` may be objects or arrays, 404 while the flux has no return yet.
Authentication, the token and its renewal, proxies and errors are the `Session`'s.
"""

from __future__ import annotations

import gzip
import io
import time
from dataclasses import replace
from datetime import UTC

from lxml import etree

from gedflow.formats.dpae_bilan import Bilan, NotABilan, parse
from gedflow.portal.dsn_api import returns_of
from gedflow.portal.http import PortalError
from gedflow.portal.session import Session
from gedflow.xmlsafe import HARDENED


class Rejected(PortalError):
    """The deposit was refused (HTTP 422): `report` says why, from the rejection report."""

    def __init__(self, report: str) -> None:
        super().__init__(f"dépôt rejeté : {report}", 422)
        self.report = report


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(**HARDENED))


def rejection(body: str) -> str:
    """The anomalies of a rejection report (a GIP-MDS `rapport`), else its first words."""
    try:
        root = _parse(body.encode("utf-8"))
    except (etree.XMLSyntaxError, ValueError):
        return " ".join(body.split())[:300] or "aucun détail"
    found = [" ".join(f"{d.findtext('code') or ''} {d.findtext('message') or ''}".split())
             for d in root.iter("description")]
    return " ; ".join(f for f in found if f) or "aucun détail"


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
        try:
            answer = _parse(self.session.request(
                "POST", self.depot, tries=1, content=gzip.compress(message),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"}).content)
        except PortalError as exc:
            if exc.status == 422:
                raise Rejected(rejection(exc.body)) from exc
            raise
        idflux, etat = answer.findtext(".//idflux"), answer.findtext(".//envoi_etat")
        if etat != "OK" or not idflux:
            raise PortalError(f"dépôt refusé (envoi_etat={etat})")
        return idflux.strip()

    def bilan(self, idflux: str, attempts: int = 60, interval: float = 10.0) -> Bilan:
        """Poll the flow's returns until the DPAE bilan is there."""
        for attempt in range(attempts):
            try:
                listing = self.session.request("GET", self.retours + idflux).json()
            except PortalError as exc:
                if exc.status != 404:  # 404: the flux has no return yet
                    raise
                listing = {}
            for retour in returns_of(listing, UTC)[0]:
                try:
                    bilan = parse(io.BytesIO(self.session.request("GET", retour.url).content))
                except NotABilan:
                    continue  # another return of the flux
                return replace(bilan, idflux=bilan.idflux or idflux)
            if attempt + 1 < attempts:
                time.sleep(interval)
        raise PortalError(f"pas de bilan pour le flux {idflux} après {attempts} essais")
