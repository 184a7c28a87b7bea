"""HTTP to Net-Entreprises / URSSAF with the `[connexion]` settings: direct, proxy or the
environment's proxies, TLS verification, timeout, a few tries on 429/5xx/timeouts, the offline
guard (nothing leaves the machine in mode assistance) and every failure turned into a
`PortalError` whose message a payroll manager understands.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from urllib.parse import quote

import httpx
from lxml import etree

from gedflow.errors import GedflowError
from gedflow.portal import offline
from gedflow.settings import Settings

log = logging.getLogger(__name__)
PROXY_PASSWORD_ENV = "GEDFLOW_PROXY_MOT_DE_PASSE"

REASONS = {
    401: "identifiants refusés : la casse et les caractères spéciaux comptent, copiez-collez "
         "depuis le portail (mot de passe expiré, ou compte pas encore actif ?)",
    404: "introuvable sur le serveur",
    403: "accès refusé : compte bloqué, ou habilitation / licence refusée pour ce service",
    407: "le proxy refuse l'authentification (utilisateur ou mot de passe du proxy)",
    422: "identifiants mal formés (SIRET, nom, prénom ou code service)",
    429: "trop de requêtes : le serveur demande d'attendre, réessayez plus tard",
}
RETRIED = {429, 500, 502, 503, 504}
# 401 realms (`WWW-Authenticate: DSNLogin realm="…"`): what each means for the user.
REALMS = {
    "jeton manquant ou invalide": "jeton manquant, invalide ou expiré : reconnectez-vous",
    "utilisateur non-inscrit au service": "utilisateur non inscrit à ce service sur "
                                          "net-entreprises.fr (inscription pas encore active ?)",
    "mot de passe expiré": "mot de passe expiré : changez-le sur net-entreprises.fr",
}
USER_AGENT = f"Client-DSN (gedflow/{version('gedflow')}; projet gedflow)"


class PortalError(GedflowError):
    """A call that failed; `status` is the HTTP status when the server answered, `reason` the
    cause without the context the message adds."""

    code = "portail"

    def __init__(self, message: str, status: int | None = None, reason: str = "",
                 body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason or message
        self.body = body  # what the server answered (a deposit's rejection report)


def realm_of(header: str) -> str:
    """The realm of a `WWW-Authenticate` header, "" if none."""
    _before, found, rest = header.partition('realm="')
    return rest.split('"', 1)[0] if found else ""


def http_reason(status: int, via_proxy: bool = False, reasons: dict[int, str] | None = None,
                realm: str = "") -> str:
    """What an HTTP status means here; `reasons` says it for one kind of call."""
    if status == 401 and realm:
        meaning = REALMS.get(realm.strip().lower())
        if meaning:
            return f"HTTP 401 : {meaning}"
    chosen = {**REASONS, **(reasons or {})}
    if status in chosen:
        return f"HTTP {status} : {chosen[status]}"
    if via_proxy and status in (502, 503, 504):
        return f"HTTP {status} : le proxy n'a pas pu joindre le serveur"
    if status >= 500:
        return f"HTTP {status} : erreur du serveur, réessayez plus tard"
    return f"HTTP {status} : réponse inattendue du serveur"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


DNS_FAILURE = "nom de serveur introuvable (DNS) : vérifiez l'adresse et l'accès internet"
TLS_FAILURE = ("erreur TLS : le certificat du serveur n'est pas vérifié (proxy qui intercepte, "
               "date du poste, autorité inconnue)")


def network_reason(exc: httpx.HTTPError, via_proxy: bool, timeout: float) -> str:
    """Plain-French reason for a call that got no HTTP answer."""
    if isinstance(exc, httpx.TimeoutException):
        return f"délai dépassé ({timeout:g} s) : le serveur ne répond pas à temps"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "connexion coupée avant la fin de la réponse : réessayez"
    if isinstance(exc, httpx.ProxyError):
        return f"proxy refusé : {exc}"
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return DNS_FAILURE
        if isinstance(cause, ssl.SSLError):
            return TLS_FAILURE
        if isinstance(cause, ConnectionRefusedError):
            return ("proxy injoignable : connexion refusée par le proxy" if via_proxy else
                    "connexion refusée : aucun service à cette adresse (pare-feu ?)")
    text = str(exc)
    if "Name or service not known" in text or "getaddrinfo" in text:
        return DNS_FAILURE
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return TLS_FAILURE
    return f"connexion impossible : {text or type(exc).__name__}"


@dataclass(frozen=True)
class Connexion:
    """The `[connexion]` settings a client needs."""

    mode: str = "direct"
    proxy: str = ""
    securise: bool = True
    delai: float = 30.0
    essais: int = 3
    attente: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Connexion:
        proxy = ""
        if settings.connexion_mode == "proxy":
            auth = ""
            if settings.connexion_proxy_utilisateur:
                secret = quote(os.environ.get(PROXY_PASSWORD_ENV, ""), safe="")
                auth = f"{quote(settings.connexion_proxy_utilisateur, safe='')}:{secret}@"
            proxy = f"http://{auth}{settings.connexion_proxy_hote}:{settings.connexion_proxy_port}"
        return cls(settings.connexion_mode, proxy, settings.connexion_securise,
                   settings.connexion_delai, max(1, settings.connexion_essais),
                   settings.connexion_attente)


class Portal:
    """One HTTP client for every Net-Entreprises / URSSAF call of a run."""

    def __init__(self, settings: Settings, connexion: Connexion | None = None) -> None:
        self.settings = settings
        self.connexion = connexion or Connexion.from_settings(settings)
        if not self.connexion.securise:
            log.warning("connexion non sécurisée : la vérification TLS est DÉSACTIVÉE "
                        "([connexion] securise = false)")
        self._client = httpx.Client(
            proxy=self.connexion.proxy or None,
            trust_env=self.connexion.mode == "systeme",
            verify=self.connexion.securise,
            timeout=self.connexion.delai,
            # The servers answer gzip (and 406 to a client that does not accept it).
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
        )

    @property
    def via_proxy(self) -> bool:
        return self.connexion.mode == "proxy" or (
            self.connexion.mode == "systeme"
            and any(os.environ.get(n) for n in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                                                  "http_proxy", "ALL_PROXY", "all_proxy")))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        offline.refuse_if_on(self.settings)
        try:
            return self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise PortalError(network_reason(exc, self.via_proxy, self.connexion.delai)) from exc

    def _refusal(self, answer: httpx.Response, reasons: dict[int, str] | None) -> PortalError:
        status = answer.status_code
        reason = http_reason(status, self.via_proxy, reasons,
                             realm_of(answer.headers.get("WWW-Authenticate", "")))
        return PortalError(reason, status, body=answer.text[:4000])

    def request(self, method: str, url: str, tries: int | None = None,
                reasons: dict[int, str] | None = None, **kwargs) -> httpx.Response:
        """The answer (2xx), after up to `tries` attempts on 429, 5xx and timeouts; `reasons`
        words the refusals of this kind of call."""
        tries = tries or self.connexion.essais
        for attempt in range(1, tries + 1):
            try:
                answer = self._send(method, url, **kwargs)
            except PortalError as exc:
                if attempt == tries or not isinstance(exc.__cause__, httpx.TimeoutException):
                    raise
                self._pause(attempt, None)
                continue
            if answer.is_success:
                return answer
            if answer.status_code not in RETRIED or attempt == tries:
                raise self._refusal(answer, reasons)
            self._pause(attempt, answer.headers.get("Retry-After"))
        raise AssertionError("unreachable")

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        wait = self.connexion.attente * 2 ** (attempt - 1)
        if retry_after and retry_after.isdigit():
            wait = min(float(retry_after), 60.0)
        time.sleep(wait)

    @contextmanager
    def stream(self, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """A streamed GET (for downloads); HTTP errors as `PortalError`."""
        offline.refuse_if_on(self.settings)
        try:
            with self._client.stream("GET", url, headers=headers) as answer:
                if not answer.is_success:
                    answer.read()
                    raise self._refusal(answer, None)
                yield answer
        except httpx.HTTPError as exc:
            raise PortalError(network_reason(exc, self.via_proxy, self.connexion.delai)) from exc


def identifiants_xml(siret: str, nom: str, prenom: str, motdepasse: str, service: str) -> bytes:
    """The authentication body of the API DSN and the API DPAE."""
    root = etree.Element("identifiants")
    for tag, value in (("siret", siret), ("nom", nom), ("prenom", prenom),
                       ("motdepasse", motdepasse), ("service", service)):
        etree.SubElement(root, tag).text = value
    return etree.tostring(root)


def auth_header(token: str, declarant: str = "") -> dict[str, str]:
    """`DSNLogin jeton=…`; for a concentrator (service 98) acting for a declarant
    (`SIRET;NOM;PRENOM`), `DSNLogin concentrateur=…,declarant=<base64>`."""
    if not declarant:
        return {"Authorization": f"DSNLogin jeton={token}"}
    snp = base64.b64encode(declarant.encode("utf-8")).decode("ascii")
    return {"Authorization": f"DSNLogin concentrateur={token},declarant={snp}"}
