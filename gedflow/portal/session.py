"""An authenticated conversation with one API: the token (POST the
identifiants, the answer is the token; then `Authorization: DSNLogin jeton=…`), renewed once when
a call answers 401 because it expired mid-run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from gedflow.portal.credentials import Identifiants
from gedflow.portal.http import Portal, PortalError, auth_header, identifiants_xml

log = logging.getLogger(__name__)


class Session:
    """`declarant` (`SIRET;NOM;PRENOM`) is set when a concentrator account (service 98) acts
    for one of its declarants."""

    def __init__(self, portal: Portal, auth_url: str, who: Identifiants, user: str = "",
                 declarant: str = "") -> None:
        self.portal = portal
        self.auth_url = auth_url
        self.who = who
        self.user = user or who.nom
        self.declarant = declarant
        self._token = ""

    def login(self) -> str:
        body = identifiants_xml(self.who.siret, self.who.nom, self.who.prenom,
                                self.who.motdepasse, self.who.service)
        try:
            answer = self.portal.request("POST", self.auth_url, content=body,
                                         headers={"Content-Type": "application/xml"})
        except PortalError as exc:
            raise PortalError(f"authentification de {self.user} : {exc}", exc.status,
                              exc.reason) from exc
        token = answer.text.strip()
        if not token:
            raise PortalError(f"authentification de {self.user} : jeton vide")
        self._token = token
        return token

    def logged_in(self) -> None:
        """Log in now unless a token is held."""
        if not self._token:
            self.login()

    @property
    def headers(self) -> dict[str, str]:
        return auth_header(self._token or self.login(), self.declarant)

    def request(self, method: str, url: str, headers: dict | None = None,
                **kwargs) -> httpx.Response:
        """The call with the token; a 401 (token expired) logs in again and retries once."""
        try:
            return self.portal.request(method, url, headers={**(headers or {}), **self.headers},
                                       **kwargs)
        except PortalError as exc:
            if exc.status != 401:
                raise
        log.info("token expired for %s: logging in again", self.user)
        try:
            self.login()
        except PortalError as exc:  # the call itself was answered (401): it was not taken
            raise PortalError(str(exc), exc.status or 401, exc.reason) from exc
        return self.portal.request(method, url, headers={**(headers or {}), **self.headers},
                                   **kwargs)

    @contextmanager
    def stream(self, url: str) -> Iterator[httpx.Response]:
        """A streamed GET with the token, renewed once on 401."""
        started = False
        try:
            with self.portal.stream(url, self.headers) as answer:
                started = True
                yield answer
            return
        except PortalError as exc:
            if started or exc.status != 401:
                raise
        self.login()
        with self.portal.stream(url, self.headers) as answer:
            yield answer
